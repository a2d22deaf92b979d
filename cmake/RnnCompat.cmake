# SPDX-License-Identifier: MIT
#
# Old binaries keep running (rnn.h, "Versioned structs"; docs/api.md).
# Included from tests/CMakeLists.txt, whose RNN_CMOCKA, RNN_TEST_ENV,
# RNN_TEST_TIMEOUT and RNN_VALGRIND_TARGETS it uses.
#
#   compat_0_1_0         tests/compat/program_0_1_0.c, compiled against the
#                        0.1.0 header kept verbatim (tests/compat/rnn_0_1_0.h),
#                        trains with Adam, saves, loads, steps and looks up
#                        tensors against this tree's librnn.so
#   compat_0_1_0_grown   the same program against librnn built with
#                        RNN_TEST_GROWTH=16: every versioned struct 16 bytes
#                        longer, as when a release appends fields
#   abi_struct_grown     tests/test_abi_struct.c compiled with the grown
#                        header and run against the grown library
#   abi_growth_allowed   the ABI check (abi/check_abi.sh) passes the grown
#                        library: appending fields is an addition
# In the ASan build a byte written past a caller's 0.1.0 struct fails the run.

include_guard(DIRECTORY)

set(_rnn_compat_dir "${CMAKE_CURRENT_SOURCE_DIR}/compat")

# librnn with grown structs: the library's sources compiled once more.
add_library(rnn_grown SHARED ${RNN_SOURCES})
rnn_library_setup(rnn_grown DEFINITIONS RNN_TEST_GROWTH=16)  # cmake/RnnLibrarySetup.cmake
target_link_libraries(rnn_grown PRIVATE ${RNN_PRIVATE_LIBS})
target_link_options(rnn_grown PRIVATE
  "LINKER:--version-script=${PROJECT_SOURCE_DIR}/cmake/rnn.map")
set_target_properties(rnn_grown PROPERTIES
  OUTPUT_NAME rnn
  SOVERSION "${PROJECT_VERSION_MAJOR}"
  LIBRARY_OUTPUT_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}/grown")

function(_rnn_compat_program name library)
  add_executable(${name} "${_rnn_compat_dir}/program_0_1_0.c")
  target_include_directories(${name} PRIVATE "${_rnn_compat_dir}")
  target_link_libraries(${name} PRIVATE ${library} m)
  # A directory each: both programs save and remove the same file names
  # (compat_0_1_0*.safetensors) and run in parallel under ctest -j.
  set(_dir "${CMAKE_CURRENT_BINARY_DIR}/${name}-work")
  file(MAKE_DIRECTORY "${_dir}")
  add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY "${_dir}")
  set_tests_properties(${name} PROPERTIES
    ENVIRONMENT "${RNN_TEST_ENV}" LABELS "unit;abi" TIMEOUT ${RNN_TEST_TIMEOUT})
endfunction()
_rnn_compat_program(compat_0_1_0 rnn)
_rnn_compat_program(compat_0_1_0_grown rnn_grown)

add_executable(abi_struct_grown "${CMAKE_CURRENT_SOURCE_DIR}/test_abi_struct.c")
target_compile_definitions(abi_struct_grown PRIVATE RNN_TEST_GROWTH=16)
target_link_libraries(abi_struct_grown PRIVATE rnn_test_support rnn_grown ${RNN_CMOCKA} Threads::Threads m)
rnn_target_warnings(abi_struct_grown)
add_test(NAME abi_struct_grown COMMAND abi_struct_grown)
set_tests_properties(abi_struct_grown PROPERTIES
  ENVIRONMENT "${RNN_TEST_ENV}" LABELS "unit;abi" TIMEOUT ${RNN_TEST_TIMEOUT})

list(APPEND RNN_VALGRIND_TARGETS compat_0_1_0 compat_0_1_0_grown abi_struct_grown)
