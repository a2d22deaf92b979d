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
  add_compile_options(--coverage -O0)
  add_link_options(--coverage)
endif()
