# SPDX-License-Identifier: MIT
#
# ctest tests that run the example programs of examples/ end to end (label
# "example"). Included at the end of tests/CMakeLists.txt, so RNN_TEST_ENV
# and RNN_TEST_TIMEOUT are those of the unit tests; the examples themselves
# are built by the top-level CMakeLists.txt (one program per examples/*.c)
# and a test is registered only when its program exists.

include_guard(DIRECTORY)

if(TARGET char_rnn)
  # A few updates on README.md alone: trains, saves, reloads and samples.
  # char_rnn exits 3 when the loss of its last report window is not below
  # the loss of the untrained model, 1 on any librnn or file error.
  add_test(NAME char_rnn_smoke
    COMMAND char_rnn --text "${PROJECT_SOURCE_DIR}/README.md"
                     --steps 40 --report 10 --sample-len 80 --seed 1
                     --out "${CMAKE_CURRENT_BINARY_DIR}/char_rnn_smoke.safetensors"
    WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
  set_tests_properties(char_rnn_smoke PROPERTIES
    ENVIRONMENT "${RNN_TEST_ENV}" LABELS example TIMEOUT ${RNN_TEST_TIMEOUT})
endif()

if(TARGET adding_problem)
  # A few steps of each cell on short sequences: the program runs all three
  # cells, evaluates, writes its curves and prints its key=value line (the
  # default run, T = 100 and 4000 steps, is the documented experiment).
  add_test(NAME adding_problem_smoke
    COMMAND adding_problem --seq-len 20 --steps 20 --eval-every 10
                           --test-samples 64
                           --csv "${CMAKE_CURRENT_BINARY_DIR}/adding_problem_smoke.csv")
  set_tests_properties(adding_problem_smoke PROPERTIES
    PASS_REGULAR_EXPRESSION "baseline_mse=0\\.[0-9]+ rnn_mse=[0-9.]+ lstm_mse=[0-9.]+ gru_mse=[0-9.]+"
    ENVIRONMENT "${RNN_TEST_ENV}" LABELS example TIMEOUT ${RNN_TEST_TIMEOUT})
endif()
