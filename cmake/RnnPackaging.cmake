# SPDX-License-Identifier: MIT
#
# Debian packages with CPack, from a build tree configured for /usr:
#
#   cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
#         -DRNN_BUILD_STATIC=ON
#   cmake --build build-deb -j && (cd build-deb && cpack -G DEB)
#
# gives two packages, one per install component of CMakeLists.txt:
#   librnn0     (component runtime)  /usr/lib/<multiarch>/librnn.so.0*, with a
#               shlibs and a symbols file, ldconfig run on install and removal
#   librnn-dev  (component devel)    rnn.h, librnn.so, librnn.a, rnn.pc,
#               lib/<multiarch>/cmake/rnn/; Depends: librnn0 (= version)
# each with /usr/share/doc/<package>/copyright and changelog.Debian.gz
# (packaging/debian/). tests/deb/run_deb.sh (ctest deb_install) builds them
# from a temporary /usr configuration of this tree and installs them.
#
# Depends of librnn0 are written here, not computed by dpkg-shlibdeps: that
# tool names the package behind the machine's current libblas.so.3
# alternative, and librnn must accept any BLAS (the generic libblas.so.3 that
# libblas3, libopenblas0-*, libblis4-* ... all Provide). The floors are what
# dpkg-shlibdeps computes on Debian 12; deb_install checks them against a
# fresh dpkg-shlibdeps run, so a new libc symbol cannot slip by.

set(RNN_DEB_RUNTIME_DEPENDS
    "libc6 (>= 2.35), libblas3 | libblas.so.3, liblapacke (>= 3.11.0), libcjson1 (>= 1.7.13)"
    CACHE STRING "Depends of the librnn0 Debian package")
set(RNN_DEB_MAINTAINER
    "librnn maintainers <maintainers@users.noreply.r-seed-dfcb6751.example>"
    CACHE STRING "Maintainer field of the Debian packages")
set(RNN_DEB_REVISION "1" CACHE STRING "Debian revision of the packages (version ${PROJECT_VERSION}-<this>)")

# --- documentation files of each package -----------------------------------
# changelog.Debian.gz: gzip -9n (no name, no time stamp) of packaging/debian/changelog.
set(_rnn_deb_dir "${PROJECT_SOURCE_DIR}/packaging/debian")
set(_rnn_deb_out "${PROJECT_BINARY_DIR}/debian")
file(MAKE_DIRECTORY "${_rnn_deb_out}")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_rnn_deb_dir}/changelog")
file(READ "${_rnn_deb_dir}/changelog" _rnn_changelog)
if(NOT _rnn_changelog MATCHES "^librnn \\(${PROJECT_VERSION}-")
  message(WARNING "packaging/debian/changelog: the first entry is not for version "
                  "${PROJECT_VERSION} (deb_install fails until it is)")
endif()
find_program(RNN_GZIP NAMES gzip)
if(RNN_GZIP)
  execute_process(COMMAND "${RNN_GZIP}" -9nc "${_rnn_deb_dir}/changelog"
                  OUTPUT_FILE "${_rnn_deb_out}/changelog.Debian.gz"
                  RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "gzip of packaging/debian/changelog failed")
  endif()
endif()

# Installed only for component installs (CPack), not by a plain cmake --install.
set(_rnn_deb_components runtime devel)
set(_rnn_deb_packages librnn${PROJECT_VERSION_MAJOR} librnn-dev)
foreach(_component _package IN ZIP_LISTS _rnn_deb_components _rnn_deb_packages)
  install(FILES "${_rnn_deb_dir}/copyright"
          DESTINATION "${CMAKE_INSTALL_DATAROOTDIR}/doc/${_package}"
          COMPONENT ${_component} EXCLUDE_FROM_ALL)
  if(RNN_GZIP)
    install(FILES "${_rnn_deb_out}/changelog.Debian.gz"
            DESTINATION "${CMAKE_INSTALL_DATAROOTDIR}/doc/${_package}"
            COMPONENT ${_component} EXCLUDE_FROM_ALL)
  endif()
endforeach()

# --- symbols file ------------------------------------------------------------
# Written after each link of librnn.so from its dynamic symbol table: every
# exported rnn_* symbol, with the current version as its minimal version (a
# conservative floor: programs built against this package need at least it).
add_custom_command(TARGET rnn POST_BUILD
  COMMAND "${CMAKE_COMMAND}" -DNM=${CMAKE_NM} -DLIB=$<TARGET_FILE:rnn>
          -DSONAME=librnn.so.${PROJECT_VERSION_MAJOR} -DPACKAGE=librnn${PROJECT_VERSION_MAJOR}
          -DVERSION=${PROJECT_VERSION} -DOUT=${_rnn_deb_out}/symbols
          "-DRELEASED=0.1.0=${PROJECT_SOURCE_DIR}/tests/compat/rnn_0_1_0.h"
          -P "${PROJECT_SOURCE_DIR}/cmake/RnnDebSymbols.cmake"
  VERBATIM)

# --- CPack -------------------------------------------------------------------
set(CPACK_PACKAGE_NAME "librnn")
set(CPACK_PACKAGE_VENDOR "librnn")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "${RNN_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_GENERATOR "DEB")
set(CPACK_COMPONENTS_ALL runtime devel)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)   # librnn0_0.1.0-1_amd64.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE "${RNN_DEB_REVISION}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${RNN_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION "libs")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "")
# File ownership root:root in the archives without fakeroot.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME "librnn${PROJECT_VERSION_MAJOR}")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION "libs")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "${RNN_DEB_RUNTIME_DEPENDS}")
# shlibs ("librnn 0 librnn0 (>= 0.1.0-1)") and symbols; with the shlibs, CPack
# adds postinst/postrm scripts that run ldconfig.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)   # only librnn0 holds a shared object
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA "${_rnn_deb_out}/symbols")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
    "vanilla (Elman) recurrent neural networks on CBLAS - shared library
librnn trains and runs PyTorch-compatible vanilla RNNs (torch.nn.RNN: same
parameters, names and results) with a stable C ABI. Every matrix product goes
through the generic libblas.so.3, so the BLAS (OpenBLAS, BLIS, reference) is
chosen at run time with update-alternatives.
.
This package holds the shared library librnn.so.${PROJECT_VERSION_MAJOR}.")

set(CPACK_DEBIAN_DEVEL_PACKAGE_NAME "librnn-dev")
set(CPACK_DEBIAN_DEVEL_PACKAGE_SECTION "libdevel")
set(CPACK_DEBIAN_DEVEL_PACKAGE_DEPENDS
    "librnn${PROJECT_VERSION_MAJOR} (= ${PROJECT_VERSION}-${RNN_DEB_REVISION}), libblas-dev | libblas.so, liblapacke-dev, libcjson-dev")
set(CPACK_COMPONENT_DEVEL_DESCRIPTION
    "vanilla (Elman) recurrent neural networks on CBLAS - development files
librnn trains and runs PyTorch-compatible vanilla RNNs (torch.nn.RNN: same
parameters, names and results) with a stable C ABI.
.
This package holds the header rnn.h, the link library librnn.so, the static
library librnn.a, the pkg-config file rnn.pc and the CMake package
(find_package(rnn) giving rnn::rnn and rnn::rnn_static).")

include(CPack)
