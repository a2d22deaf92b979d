# SPDX-License-Identifier: MIT
#
# ABI baseline of librnn.so (included from tests/CMakeLists.txt):
#
#   ctest -R abi_baseline                        compare the built librnn.so
#                                                with abi/librnn.abi and
#                                                abi/librnn.symbols
#   ctest -R abi_growth_allowed                  the same for the library
#                                                with grown structs
#   cmake --build <build> --target rnn_abi_update
#                                                regenerate both from this
#                                                build (an intended change)
#
# See abi/check_abi.sh for what fails (removed or changed functions and
# types; additions pass) and docs/reliability.md for when to regenerate.
# Needs abidw/abidiff (Debian: abigail-tools) and a library with DWARF:
# a Debug or RelWithDebInfo build. Not registered in sanitized or coverage
# builds (one comparison per test run is enough).

include_guard(GLOBAL)

find_program(RNN_ABIDIFF NAMES abidiff)
find_program(RNN_ABIDW NAMES abidw)
find_program(RNN_ABI_NM NAMES nm)

set(_rnn_abi_dir "${PROJECT_SOURCE_DIR}/abi")
set(_rnn_abi_script "${_rnn_abi_dir}/check_abi.sh")

string(TOUPPER "${CMAKE_BUILD_TYPE}" _rnn_abi_type)
if(_rnn_abi_type STREQUAL "DEBUG" OR _rnn_abi_type STREQUAL "RELWITHDEBINFO")
  set(_rnn_abi_debug_info TRUE)
else()
  set(_rnn_abi_debug_info FALSE)
endif()

# The build type and the sanitized/coverage builds decide whether the test
# belongs here; where it does, missing tools are a configure error (they are
# in `./build.sh deps`), not a test that silently drops out of the suite.
if(NOT _rnn_abi_debug_info)
  message(STATUS "librnn: ABI baseline test needs debug info "
                 "(CMAKE_BUILD_TYPE Debug or RelWithDebInfo), not registered")
elseif(RNN_SANITIZE OR RNN_COVERAGE)
  message(STATUS "librnn: ABI baseline test not registered in a sanitized or coverage build")
elseif(NOT RNN_ABIDIFF OR NOT RNN_ABIDW OR NOT RNN_ABI_NM)
  message(FATAL_ERROR "abidiff/abidw/nm not found: the ABI baseline test "
                      "abi_baseline needs them. Run ./build.sh deps (or apt-get "
                      "install abigail-tools binutils), or configure with "
                      "-DBUILD_TESTING=OFF.")
else()
  set(_rnn_abi_env "ABIDIFF=${RNN_ABIDIFF};ABIDW=${RNN_ABIDW};NM=${RNN_ABI_NM}")
  add_test(NAME abi_baseline
    COMMAND "${_rnn_abi_script}" check "$<TARGET_FILE:rnn>" "${_rnn_abi_dir}")
  set_tests_properties(abi_baseline PROPERTIES
    ENVIRONMENT "${_rnn_abi_env}" LABELS abi TIMEOUT 120)
  # The growth rule as the check sees it: a library whose versioned structs
  # grew (cmake/RnnCompat.cmake) passes against the same baseline.
  if(TARGET rnn_grown)
    add_test(NAME abi_growth_allowed
      COMMAND "${_rnn_abi_script}" check "$<TARGET_FILE:rnn_grown>" "${_rnn_abi_dir}")
    set_tests_properties(abi_growth_allowed PROPERTIES
      ENVIRONMENT "${_rnn_abi_env}" LABELS abi TIMEOUT 120)
  endif()

  add_custom_target(rnn_abi_update
    COMMAND ${CMAKE_COMMAND} -E env ${_rnn_abi_env}
            "${_rnn_abi_script}" update "$<TARGET_FILE:rnn>" "${_rnn_abi_dir}"
            "${PROJECT_SOURCE_DIR}/include" "${PROJECT_SOURCE_DIR}/src"
    DEPENDS rnn
    COMMENT "Regenerating abi/librnn.abi and abi/librnn.symbols"
    VERBATIM)
endif()
