# SPDX-License-Identifier: MIT
#
# ThreadSanitizer runs of tests/test_threads.c and tests/test_num_threads.c
# (librnn's own threads): ctest tests tsan_threads and tsan_num_threads
# (label tsan). Included from tests/CMakeLists.txt, whose RNN_TEST_SUPPORT_SOURCES,
# RNN_CMOCKA and RNN_TEST_TIMEOUT it uses (and the top CMakeLists.txt's
# RNN_SOURCES, RNN_PRIVATE_LIBS and rnn_library_setup()).
#
# TSan must instrument every access it judges, so the program is built from
# the library's SOURCES (src/*.c, compiled again with -fsanitize=thread)
# rather than linked with librnn.so, together with the test and its support
# files. Only this one executable is instrumented: the rest of the build and
# every other test are unchanged.
#
# Not in an RNN_SANITIZE build (ASan and TSan cannot be linked into one
# program) nor in an RNN_COVERAGE one. OpenBLAS is not instrumented: the
# test runs it with one thread (OPENBLAS_NUM_THREADS=1), and tests/tsan.supp
# may silence reports whose racing frames lie in libopenblas only, never in
# librnn. -DRNN_TSAN_TESTS=OFF leaves the test out.

include_guard(DIRECTORY)

option(RNN_TSAN_TESTS "Build test_threads under ThreadSanitizer (ctest test tsan_threads)" ON)

if(NOT RNN_TSAN_TESTS)
  return()
endif()
if(RNN_SANITIZE)
  message(STATUS "librnn: tsan_threads not built: RNN_SANITIZE (ASan) and "
                 "ThreadSanitizer cannot be mixed")
  return()
endif()
if(RNN_COVERAGE)
  # --coverage is added to every target of the build, and a TSan program
  # with gcov's runtime crashes at start.
  message(STATUS "librnn: tsan_threads not built in a coverage build")
  return()
endif()
if(NOT CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  message(STATUS "librnn: tsan_threads not built: ${CMAKE_C_COMPILER_ID} has no -fsanitize=thread")
  return()
endif()
if(NOT EXISTS "${PROJECT_SOURCE_DIR}/tests/test_threads.c")
  return()
endif()

# The runtime (libtsan) is a separate package on some systems.
include(CheckCSourceCompiles)
include(CMakePushCheckState)
cmake_push_check_state(RESET)
set(CMAKE_REQUIRED_FLAGS "-fsanitize=thread")
set(CMAKE_REQUIRED_LINK_OPTIONS "-fsanitize=thread")
check_c_source_compiles("int main(void) { return 0; }" RNN_HAVE_TSAN)
cmake_pop_check_state()
if(NOT RNN_HAVE_TSAN)
  message(STATUS "librnn: tsan_threads not built: -fsanitize=thread does not "
                 "link (apt-get install libtsan2)")
  return()
endif()

set(RNN_TSAN_FLAGS -fsanitize=thread -fno-omit-frame-pointer -g)

add_library(rnn_tsan_objects OBJECT ${RNN_SOURCES})
rnn_library_setup(rnn_tsan_objects)  # as librnn is compiled: cmake/RnnLibrarySetup.cmake
target_compile_options(rnn_tsan_objects PRIVATE ${RNN_TSAN_FLAGS})

# Functions cloned per instruction set (target_clones) get an ifunc
# resolver, which the dynamic loader runs while relocating the program,
# before the TSan runtime is initialised: GCC's __tsan_func_entry call at its
# top would crash the program before main. In the files that clone, keep the
# instrumentation of every memory access but drop the entry/exit hooks (the
# only loss: those functions do not appear as callers in report stacks).
cmake_push_check_state(RESET)
set(CMAKE_REQUIRED_FLAGS "-fsanitize=thread --param=tsan-instrument-func-entry-exit=0")
set(CMAKE_REQUIRED_LINK_OPTIONS "-fsanitize=thread")
check_c_source_compiles("int main(void) { return 0; }" RNN_HAVE_TSAN_NO_FUNC_HOOKS)
cmake_pop_check_state()
foreach(_src IN LISTS RNN_SOURCES)
  file(STRINGS "${_src}" _clones REGEX "target_clones")
  if(_clones AND RNN_HAVE_TSAN_NO_FUNC_HOOKS)
    # A source's options hold for every target of the directory (rnn_grown
    # compiles the same files here): only when compiling rnn_tsan_objects.
    set_property(SOURCE "${_src}" TARGET_DIRECTORY rnn_tsan_objects APPEND
                 PROPERTY COMPILE_OPTIONS
                 "$<$<STREQUAL:$<TARGET_PROPERTY:NAME>,rnn_tsan_objects>:--param=tsan-instrument-func-entry-exit=0>")
  endif()
endforeach()

# Each program: tests/<name>.c against the instrumented objects, as ctest
# test tsan_<suffix>.
foreach(_pair "test_threads;tsan_threads" "test_num_threads;tsan_num_threads")
  list(GET _pair 0 _test)
  list(GET _pair 1 _ctest)
  add_executable(${_test}_tsan
    "${PROJECT_SOURCE_DIR}/tests/${_test}.c"
    ${RNN_TEST_SUPPORT_SOURCES}
    $<TARGET_OBJECTS:rnn_tsan_objects>)
  target_include_directories(${_test}_tsan PRIVATE
    "${PROJECT_SOURCE_DIR}/tests" "${PROJECT_SOURCE_DIR}/include")
  target_compile_definitions(${_test}_tsan PRIVATE
    "RNN_TEST_SOURCE_DIR=\"${PROJECT_SOURCE_DIR}/tests\"")
  target_compile_options(${_test}_tsan PRIVATE ${RNN_TSAN_FLAGS})
  target_link_options(${_test}_tsan PRIVATE -fsanitize=thread)
  target_link_libraries(${_test}_tsan PRIVATE
    ${RNN_PRIVATE_LIBS} ${RNN_CMOCKA} Threads::Threads m)
  rnn_target_warnings(${_test}_tsan)

  # halt_on_error + exitcode: the first report fails the test.
  add_test(NAME ${_ctest} COMMAND ${_test}_tsan)
  set_tests_properties(${_ctest} PROPERTIES
    ENVIRONMENT "OPENBLAS_NUM_THREADS=1;RNN_TEST_SOURCE_DIR=${PROJECT_SOURCE_DIR}/tests;TSAN_OPTIONS=halt_on_error=1:exitcode=66:second_deadlock_stack=1:suppressions=${PROJECT_SOURCE_DIR}/tests/tsan.supp"
    LABELS tsan
    TIMEOUT ${RNN_TEST_TIMEOUT})
endforeach()
