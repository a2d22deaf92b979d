# SPDX-License-Identifier: MIT
#
# Installing the Python binding (python/rnn, pure Python) with CMake:
#
#   cmake -B build -DRNN_INSTALL_PYTHON=ON && cmake --build build
#   cmake --install build --prefix ~/.local      # also <prefix>/lib/python3.X/site-packages/rnn
#
# or, without the option, only the binding of an already configured tree:
#
#   cmake --install build --prefix <prefix> --component python
#
# The installed package holds rnn/_install.py, the library directory of that
# installation relative to the package (LIBDIR_FROM_PACKAGE), so `import rnn`
# loads <prefix>/<libdir>/librnn.so.0 without RNN_LIBRARY or LD_LIBRARY_PATH,
# and keeps doing so when the whole prefix is moved.
# RNN_PYTHON_INSTALL_DIR is where the package goes (relative: under the
# prefix); the default is the site-packages directory of the found Python 3,
# which that Python searches for a venv or PYTHONUSERBASE prefix (~/.local);
# for /usr/local on Debian pass lib/python3/dist-packages.

option(RNN_INSTALL_PYTHON "cmake --install also installs the Python binding (component python)" OFF)

find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_FOUND)
  set(_rnn_py_default "lib/python${Python3_VERSION_MAJOR}.${Python3_VERSION_MINOR}/site-packages")
else()
  set(_rnn_py_default "lib/python3/site-packages")
endif()
set(RNN_PYTHON_INSTALL_DIR "${_rnn_py_default}" CACHE STRING
    "Where cmake --install puts the Python package rnn (relative: under the prefix)")

# The relative path from <prefix>/<python dir>/rnn to <prefix>/<libdir>
# (absolute when either directory is).
if(IS_ABSOLUTE "${RNN_PYTHON_INSTALL_DIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(_rnn_py_pkg "${RNN_PYTHON_INSTALL_DIR}/rnn")
  if(NOT IS_ABSOLUTE "${_rnn_py_pkg}")
    set(_rnn_py_pkg "${CMAKE_INSTALL_PREFIX}/${_rnn_py_pkg}")
  endif()
  set(_rnn_py_lib "${CMAKE_INSTALL_LIBDIR}")
  if(NOT IS_ABSOLUTE "${_rnn_py_lib}")
    set(_rnn_py_lib "${CMAKE_INSTALL_PREFIX}/${_rnn_py_lib}")
  endif()
  file(RELATIVE_PATH _rnn_py_rel "${_rnn_py_pkg}" "${_rnn_py_lib}")
  if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    set(_rnn_py_rel "${CMAKE_INSTALL_LIBDIR}")   # os.path.join keeps an absolute path
  endif()
else()
  file(RELATIVE_PATH _rnn_py_rel "/prefix/${RNN_PYTHON_INSTALL_DIR}/rnn" "/prefix/${CMAKE_INSTALL_LIBDIR}")
endif()
file(CONFIGURE OUTPUT "${PROJECT_BINARY_DIR}/python/_install.py" CONTENT
"# Written by cmake --install (cmake/RnnPython.cmake): where this installation's
# librnn.so.@PROJECT_VERSION_MAJOR@ lies, relative to this package's directory.
LIBDIR_FROM_PACKAGE = \"@_rnn_py_rel@\"
" @ONLY)

file(GLOB _rnn_py_sources CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/python/rnn/*.py")
if(RNN_INSTALL_PYTHON)
  set(_rnn_py_all "")
else()
  set(_rnn_py_all EXCLUDE_FROM_ALL)
endif()
install(FILES ${_rnn_py_sources} "${PROJECT_BINARY_DIR}/python/_install.py"
        DESTINATION "${RNN_PYTHON_INSTALL_DIR}/rnn" COMPONENT python ${_rnn_py_all})
