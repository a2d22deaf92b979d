# SPDX-License-Identifier: MIT
#
# RNN_SANITIZE=ON builds everything (library, tests, examples) with
# AddressSanitizer + UndefinedBehaviorSanitizer.
#
# Set per directory, before any target, because ASan must instrument the
# library and the programs that load it alike: an instrumented librnn.so
# cannot be loaded by an uninstrumented program unless libasan is preloaded,
# which is why tests/CMakeLists.txt does not register the install/consumer
# and Python tests in such a build.

include_guard(GLOBAL)

option(RNN_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)

if(RNN_SANITIZE)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "RNN_SANITIZE needs GCC or Clang (got ${CMAKE_C_COMPILER_ID})")
  endif()
  # -fno-sanitize-recover: a UB report must fail the test, not scroll by.
  # -fno-omit-frame-pointer: readable stacks in reports at -O1 and above.
  set(RNN_SANITIZE_FLAGS
      -fsanitize=address,undefined
      -fno-sanitize-recover=all
      -fno-omit-frame-pointer)
  add_compile_options(${RNN_SANITIZE_FLAGS})
  add_link_options(-fsanitize=address,undefined)

  # What the sanitizer runtimes read when tests run (see tests/CMakeLists.txt).
  # detect_leaks: every test is also a leak check.
  set(RNN_SANITIZE_TEST_ENV
      "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1:check_initialization_order=1"
      "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
else()
  set(RNN_SANITIZE_TEST_ENV "")
endif()
