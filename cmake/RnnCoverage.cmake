# SPDX-License-Identifier: MIT
#
# RNN_COVERAGE=ON instruments everything with gcov (--coverage). Run ctest,
# then read the .gcda files with gcov, gcovr or lcov, for example:
#   cmake -B build-cov -DRNN_COVERAGE=ON -DCMAKE_BUILD_TYPE=Debug
#   cmake --build build-cov && ctest --test-dir build-cov
#   gcovr -r . build-cov --filter src/      (if gcovr is installed)
# Optimisation is turned down so that line counts map onto the source.

include_guard(GLOBAL)

option(RNN_COVERAGE "Build with gcov coverage instrumentation" OFF)

if(RNN_COVERAGE)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "RNN_COVERAGE needs GCC or Clang (got ${CMAKE_C_COMPILER_ID})")
  endif()
  # Atomic counter updates: several threads run the library at once in some
  # tests, and racing plain increments leave counts gcov cannot parse.
  add_compile_options(--coverage -O0 -fprofile-update=atomic)
  add_link_options(--coverage)
endif()

# The report (gcovr, Debian package gcovr; ./build.sh coverage runs it all):
#   cmake --build build-cov --target rnn_coverage
# reads the .gcda files left by ctest, prints line / branch / function
# coverage of src/, writes build-cov/coverage/ (HTML per file, JSON summary)
# and docs/coverage.md (the figures, per file, with the date and commit).
if(RNN_COVERAGE)
  find_program(RNN_GCOVR NAMES gcovr)
  find_package(Python3 QUIET COMPONENTS Interpreter)
  if(RNN_GCOVR AND Python3_Interpreter_FOUND)
    set(_rnn_cov_out "${PROJECT_BINARY_DIR}/coverage")
    file(MAKE_DIRECTORY "${_rnn_cov_out}")
    add_custom_target(rnn_coverage
      # Branches the compiler adds for its own bookkeeping are left out.
      COMMAND "${RNN_GCOVR}" "${PROJECT_BINARY_DIR}"
              "--root=${PROJECT_SOURCE_DIR}"
              "--filter=${PROJECT_SOURCE_DIR}/src/"
              --exclude-unreachable-branches --print-summary
              --json-summary-pretty "--json-summary=${_rnn_cov_out}/summary.json"
              "--html-details=${_rnn_cov_out}/index.html"
              "--txt=${_rnn_cov_out}/coverage.txt"
      COMMAND "${Python3_EXECUTABLE}" "${PROJECT_SOURCE_DIR}/tests/coverage_report.py"
              "${_rnn_cov_out}/summary.json" "${PROJECT_SOURCE_DIR}/docs/coverage.md"
              "${PROJECT_SOURCE_DIR}"
      # gcov writes its intermediate files into the working directory.
      WORKING_DIRECTORY "${_rnn_cov_out}"
      COMMENT "Coverage of src/ (gcovr): ${_rnn_cov_out}/index.html, docs/coverage.md"
      VERBATIM)
  else()
    message(STATUS "librnn: gcovr or python3 not found, no rnn_coverage target "
                   "(apt-get install gcovr)")
  endif()
endif()
