# SPDX-License-Identifier: MIT
#
# The API reference: Doxygen over include/rnn.h (docs/doxygen/Doxyfile.in,
# whose INPUT_FILTER docs/doxygen/filter.sed reads the header's plain C
# comments as documentation).
#
#   cmake --build <build> --target docs     -> <build>/html/index.html
#   ./build.sh docs                         -> build-docs/html/index.html
#
# Both fail on any Doxygen warning (an undocumented declaration, a broken
# reference), and so does the ctest test api_docs (label docs), which builds
# the reference in its own directory. Doxygen is a Debian package of
# ./build.sh deps; without it the target and test are configure errors only
# when BUILD_TESTING is on.

find_program(RNN_DOXYGEN NAMES doxygen DOC "Doxygen, for the API reference (target docs)")

# _rnn_doxyfile(OUT_DIR DOXYFILE): a Doxyfile writing OUT_DIR/html and its
# warnings to OUT_DIR/doxygen-warnings.log.
function(_rnn_doxyfile out_dir doxyfile)
  set(RNN_DOXYGEN_OUTPUT "${out_dir}")
  set(RNN_DOXYGEN_WARN_LOG "${out_dir}/doxygen-warnings.log")
  configure_file("${PROJECT_SOURCE_DIR}/docs/doxygen/Doxyfile.in" "${doxyfile}" @ONLY)
endfunction()

set(_rnn_docs_check "${PROJECT_SOURCE_DIR}/cmake/RnnDocsCheck.cmake")
if(RNN_DOXYGEN)
  _rnn_doxyfile("${PROJECT_BINARY_DIR}" "${PROJECT_BINARY_DIR}/Doxyfile")
  add_custom_target(docs
    COMMAND "${CMAKE_COMMAND}" -DDOXYGEN=${RNN_DOXYGEN} -DDOXYFILE=${PROJECT_BINARY_DIR}/Doxyfile
            -DOUT=${PROJECT_BINARY_DIR} -P "${_rnn_docs_check}"
    COMMENT "API reference (Doxygen) in ${PROJECT_BINARY_DIR}/html"
    VERBATIM)
endif()

if(PROJECT_IS_TOP_LEVEL AND BUILD_TESTING)
  if(NOT RNN_DOXYGEN)
    message(FATAL_ERROR "doxygen not found: the API reference test api_docs needs it. "
                        "Run ./build.sh deps (or apt-get install doxygen), or configure "
                        "with -DBUILD_TESTING=OFF.")
  endif()
  set(_dir "${PROJECT_BINARY_DIR}/tests/api-docs")
  _rnn_doxyfile("${_dir}" "${PROJECT_BINARY_DIR}/tests/Doxyfile.api_docs")
  add_test(NAME api_docs
    COMMAND "${CMAKE_COMMAND}" -DDOXYGEN=${RNN_DOXYGEN}
            -DDOXYFILE=${PROJECT_BINARY_DIR}/tests/Doxyfile.api_docs -DOUT=${_dir}
            -P "${_rnn_docs_check}")
  set_tests_properties(api_docs PROPERTIES LABELS docs TIMEOUT 120)
endif()
