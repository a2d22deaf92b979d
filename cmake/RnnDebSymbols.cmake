# SPDX-License-Identifier: MIT
#
# cmake -DNM=nm -DLIB=librnn.so.0.1.0 -DSONAME=librnn.so.0 -DPACKAGE=librnn0
#       -DVERSION=0.1.0 -DOUT=debian/symbols -P RnnDebSymbols.cmake
#
# Writes the dpkg symbols file of librnn0 (deb-symbols(5)) from the library's
# dynamic symbol table: one line per exported function or object, with its
# minimal version: the release whose header first declared it, from the
# headers of earlier releases kept verbatim (-DRELEASED="0.1.0=path;..."),
# else VERSION. Run after every link (cmake/RnnPackaging.cmake).
foreach(_var NM LIB SONAME PACKAGE VERSION OUT)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "RnnDebSymbols.cmake: -D${_var}= missing")
  endif()
endforeach()
execute_process(COMMAND "${NM}" -D --defined-only --format=posix "${LIB}"
                OUTPUT_VARIABLE _table RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "RnnDebSymbols.cmake: ${NM} -D ${LIB} failed")
endif()
string(REPLACE "\n" ";" _lines "${_table}")
set(_symbols "")
foreach(_line IN LISTS _lines)
  # "name T value size": functions (T), data (D, B, R); not the version nodes (A).
  if(_line MATCHES "^([A-Za-z_][A-Za-z0-9_]*) [TDBRW] ")
    list(APPEND _symbols "${CMAKE_MATCH_1}")
  endif()
endforeach()
list(SORT _symbols)
list(LENGTH _symbols _n)
if(_n EQUAL 0)
  message(FATAL_ERROR "RnnDebSymbols.cmake: no exported symbol in ${LIB}")
endif()
# Oldest release first: a symbol keeps the first release that declared it.
foreach(_release IN LISTS RELEASED)
  string(FIND "${_release}" "=" _eq)
  string(SUBSTRING "${_release}" 0 ${_eq} _version)
  math(EXPR _from "${_eq} + 1")
  string(SUBSTRING "${_release}" ${_from} -1 _header)
  file(STRINGS "${_header}" _decls REGEX "^RNN_API ")
  foreach(_decl IN LISTS _decls)
    if(_decl MATCHES "(rnn_[A-Za-z0-9_]+)[ \t]*\\(")
      if(NOT DEFINED _since_${CMAKE_MATCH_1})
        set(_since_${CMAKE_MATCH_1} "${_version}")
      endif()
    endif()
  endforeach()
endforeach()
set(_text "${SONAME} ${PACKAGE} #MINVER#\n")
foreach(_s IN LISTS _symbols)
  set(_min "${VERSION}")
  if(DEFINED _since_${_s})
    set(_min "${_since_${_s}}")
  endif()
  string(APPEND _text " ${_s}@Base ${_min}\n")
endforeach()
file(WRITE "${OUT}.new" "${_text}")
file(COPY_FILE "${OUT}.new" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.new")
