# SPDX-License-Identifier: MIT
#
# Runs at INSTALL time (from install(CODE) in the top CMakeLists.txt), when
# CMAKE_INSTALL_PREFIX holds the prefix really installed to, including one
# given with `cmake --install <build> --prefix <dir>`. DESTDIR is honoured by
# file(INSTALL) and, as it should be, does not appear inside rnn.pc.
#
# In:  RNN_PC_IN, RNN_PC_TMP_DIR, RNN_PC_LIBDIR, RNN_PC_INCLUDEDIR,
#      RNN_PC_VERSION, RNN_PC_DESCRIPTION

set(RNN_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")

# GNUInstallDirs directories are usually relative to the prefix, but a
# packager may pass absolute ones.
foreach(_kind IN ITEMS LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${RNN_PC_${_kind}}")
    set(RNN_PC_${_kind}_FULL "${RNN_PC_${_kind}}")
    set(_${_kind}_abs "${RNN_PC_${_kind}}")
  else()
    set(RNN_PC_${_kind}_FULL "\${prefix}/${RNN_PC_${_kind}}")
    set(_${_kind}_abs "${CMAKE_INSTALL_PREFIX}/${RNN_PC_${_kind}}")
  endif()
endforeach()

configure_file("${RNN_PC_IN}" "${RNN_PC_TMP_DIR}/rnn.pc" @ONLY)
file(INSTALL "${RNN_PC_TMP_DIR}/rnn.pc" DESTINATION "${_LIBDIR_abs}/pkgconfig")
