# SPDX-License-Identifier: MIT
#
# Fuzz targets as ordinary programs (included from tests/CMakeLists.txt).
#
# Each target in tests/fuzz/fuzz_<name>.c is linked with
# tests/fuzz/standalone_driver.c instead of libFuzzer, with the project's
# compiler and flags (so also under ASan + UBSan in the sanitized build),
# and replays its checked-in corpus - seeds, inputs found by fuzzing, and
# every crash ever found (crash-*, timeout-*, leak-*) - as the ctest test
# fuzz_replay_<name>. The seed generator is built too, and the seeds it
# makes now are replayed as well (fuzz_replay_fresh_<name>), so that a
# change to the file format cannot leave the checked-in seeds stale
# without a failing test.
#
# Fuzzing itself (clang, libFuzzer) is tests/fuzz/run_fuzz.sh; see
# docs/reliability.md.

include_guard(GLOBAL)

set(_rnn_fuzz_dir "${PROJECT_SOURCE_DIR}/tests/fuzz")
set(_rnn_fuzz_seeds "${CMAKE_CURRENT_BINARY_DIR}/fuzz-seeds")

add_executable(fuzz_gen_corpus "${_rnn_fuzz_dir}/gen_corpus.c")
target_include_directories(fuzz_gen_corpus PRIVATE "${_rnn_fuzz_dir}")
target_link_libraries(fuzz_gen_corpus PRIVATE rnn)
rnn_target_warnings(fuzz_gen_corpus)

foreach(_target IN ITEMS load api)
  set(_exe fuzz_${_target}_replay)
  add_executable(${_exe}
    "${_rnn_fuzz_dir}/fuzz_${_target}.c"
    "${_rnn_fuzz_dir}/standalone_driver.c")
  target_include_directories(${_exe} PRIVATE "${_rnn_fuzz_dir}")
  target_link_libraries(${_exe} PRIVATE rnn m)
  rnn_target_warnings(${_exe})

  add_test(NAME fuzz_replay_${_target}
    COMMAND ${_exe} "${_rnn_fuzz_dir}/corpus/${_target}")
  set_tests_properties(fuzz_replay_${_target} PROPERTIES
    ENVIRONMENT "${RNN_TEST_ENV}" LABELS fuzz TIMEOUT ${RNN_TEST_TIMEOUT})

  # Seeds from the generator as it is today: written, then replayed.
  add_test(NAME fuzz_seeds_gen_${_target}
    COMMAND fuzz_gen_corpus ${_target} "${_rnn_fuzz_seeds}-${_target}")
  add_test(NAME fuzz_replay_fresh_${_target}
    COMMAND ${_exe} "${_rnn_fuzz_seeds}-${_target}")
  set_tests_properties(fuzz_seeds_gen_${_target} PROPERTIES
    ENVIRONMENT "${RNN_TEST_ENV}" LABELS fuzz TIMEOUT 60
    FIXTURES_SETUP fuzz_seeds_${_target})
  set_tests_properties(fuzz_replay_fresh_${_target} PROPERTIES
    ENVIRONMENT "${RNN_TEST_ENV}" LABELS fuzz TIMEOUT ${RNN_TEST_TIMEOUT}
    FIXTURES_REQUIRED fuzz_seeds_${_target})
endforeach()
