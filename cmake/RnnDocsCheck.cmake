# SPDX-License-Identifier: MIT
#
# cmake -DDOXYGEN=doxygen -DDOXYFILE=Doxyfile -DOUT=dir -P RnnDocsCheck.cmake
#
# Runs Doxygen (cmake/RnnDocs.cmake) and fails when it warns: every public
# declaration of rnn.h must be documented. Also checks that the reference
# holds the header's page with its functions.
file(REMOVE_RECURSE "${OUT}/html")
file(MAKE_DIRECTORY "${OUT}")
file(REMOVE "${OUT}/doxygen-warnings.log")
execute_process(COMMAND "${DOXYGEN}" "${DOXYFILE}" RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "doxygen ${DOXYFILE} failed (${_rc})")
endif()
file(READ "${OUT}/doxygen-warnings.log" _warnings)
string(STRIP "${_warnings}" _warnings)
if(NOT _warnings STREQUAL "")
  message(FATAL_ERROR "Doxygen warnings (document every public declaration of "
                      "include/rnn.h, see the convention at its top):\n${_warnings}")
endif()
set(_page "${OUT}/html/rnn_8h.html")
if(NOT EXISTS "${_page}")
  message(FATAL_ERROR "no ${_page}")
endif()
file(READ "${_page}" _html)
foreach(_name IN ITEMS rnn_create rnn_forward rnn_backward rnn_step rnn_save rnn_config_init
                       rnn_optim_config_init RNN_VERSION_NUMBER rnn_status)
  if(NOT _html MATCHES "${_name}")
    message(FATAL_ERROR "${_page} does not mention ${_name}")
  endif()
endforeach()
message(STATUS "API reference: ${OUT}/html/index.html (no Doxygen warning)")
