# SPDX-License-Identifier: MIT
#
# rnn_library_setup(<target> [DEFINITIONS <definition>...])
#
# Compiles librnn's sources (src/*.c, RNN_SOURCES) in <target> the way the
# library itself is compiled, wherever they are compiled: the object library
# behind librnn.so and librnn.a (CMakeLists.txt), the ThreadSanitizer build
# (cmake/RnnTsanTests.cmake) and the library with grown structs
# (cmake/RnnCompat.cmake). The caller adds the sources and whatever is its
# own (sanitizer flags, link options, output name):
#   - include/, src/ and cJSON's headers
#   - RNN_BUILDING_LIBRARY=1 (the header compiles librnn itself: the place to
#     switch RNN_API to dllexport should a Windows port ever come), then
#     DEFINITIONS
#   - position independent code, hidden visibility: only functions marked
#     RNN_API (visibility "default") are exported
#   - the library's warnings (rnn_target_warnings LIBRARY)
#   - src/kernels.c at -O3 -fno-trapping-math: the fused element-wise passes
#     are written to be vectorised, -O3 turns the vectoriser fully on,
#     -fno-trapping-math lets it evaluate both sides of a select (librnn never
#     reads the floating-point exception flags)

include_guard(GLOBAL)

set(RNN_KERNELS_COMPILE_OPTIONS -O3 -fno-trapping-math)

function(rnn_library_setup target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "DEFINITIONS")
  target_include_directories(${target} PRIVATE
    "${PROJECT_SOURCE_DIR}/include"
    "${PROJECT_SOURCE_DIR}/src"
    "${RNN_CJSON_INCLUDE_DIR}")
  target_compile_definitions(${target} PRIVATE RNN_BUILDING_LIBRARY=1 ${arg_DEFINITIONS})
  set_target_properties(${target} PROPERTIES
    POSITION_INDEPENDENT_CODE ON
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  rnn_target_warnings(${target} LIBRARY)
  # A source file's properties belong to the directory of the target: set
  # them once per directory (several targets of one directory share them).
  set(_kernels "${PROJECT_SOURCE_DIR}/src/kernels.c")
  get_property(_opts SOURCE "${_kernels}" TARGET_DIRECTORY ${target}
               PROPERTY COMPILE_OPTIONS)
  if(NOT "-fno-trapping-math" IN_LIST _opts)
    set_property(SOURCE "${_kernels}" TARGET_DIRECTORY ${target} APPEND
                 PROPERTY COMPILE_OPTIONS ${RNN_KERNELS_COMPILE_OPTIONS})
  endif()
endfunction()
