# SPDX-License-Identifier: MIT
#
# Compiler warnings for librnn's own targets (library, tests, examples, bench).
#
# Applied per target rather than per directory so that code we do not own
# (a peer benchmark in C++, generated sources) is never forced under -Werror.
# -Werror is opt-in (RNN_WERROR): a user building a release with a newer
# compiler must not be stopped by a new warning, while CI and developers
# turn it on to keep the tree clean.

include_guard(GLOBAL)

option(RNN_WERROR "Treat compiler warnings as errors" OFF)

# Flags for every C and C++ target of the project.
set(RNN_WARNING_FLAGS -Wall -Wextra -Wpedantic)

# The library itself is held to a little more: every function with external
# linkage must have a prototype in a header (so nothing crosses files by
# accident), and `f()` must be spelled `f(void)`.
set(RNN_LIBRARY_WARNING_FLAGS
    $<$<COMPILE_LANGUAGE:C>:-Wmissing-prototypes -Wstrict-prototypes>)

# rnn_target_warnings(<target> [LIBRARY])
function(rnn_target_warnings target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "LIBRARY" "" "")
  target_compile_options(${target} PRIVATE ${RNN_WARNING_FLAGS})
  if(arg_LIBRARY)
    target_compile_options(${target} PRIVATE ${RNN_LIBRARY_WARNING_FLAGS})
  endif()
  if(RNN_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
