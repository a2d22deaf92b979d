# SPDX-License-Identifier: MIT
#
# MPI data parallelism: the program examples/mpi_train.c and the ctest test
# mpi_equivalence (label mpi). Included by the top-level CMakeLists.txt after
# its examples and tests sections. Without MPI (Debian: libopenmpi-dev,
# openmpi-bin) nothing here is built; in a top-level build with BUILD_TESTING
# a missing MPI, mpiexec or python3 is a configure error (all three are in
# `./build.sh deps`), not a test that silently drops out of the suite.
#
# The examples loop of the top-level CMakeLists.txt already builds every
# examples/*mpi*.c against MPI::MPI_C when MPI is found; this file makes the
# target only when that loop did not (RNN_BUILD_EXAMPLES=OFF) and the test
# needs it.
#
# mpi_equivalence runs tests/mpi_equivalence.py, which trains with
#   mpirun -n 1 mpi_train --batch 16 ...   and   mpirun -n 2 mpi_train --batch 16 ...
# and checks that both ranks end with the same parameter hash and that the
# 2-rank model equals the 1-rank one to float tolerance.

include_guard(GLOBAL)

set(_rnn_mpi_source "${PROJECT_SOURCE_DIR}/examples/mpi_train.c")
if(NOT EXISTS "${_rnn_mpi_source}")
  return()
endif()

set(_rnn_mpi_testing OFF)
if(PROJECT_IS_TOP_LEVEL AND BUILD_TESTING)
  set(_rnn_mpi_testing ON)
endif()

find_package(MPI COMPONENTS C QUIET)
if(NOT MPI_C_FOUND)
  if(_rnn_mpi_testing)
    message(FATAL_ERROR "MPI not found: the test mpi_equivalence needs it. Run "
                        "./build.sh deps (or apt-get install libopenmpi-dev "
                        "openmpi-bin), or configure with -DBUILD_TESTING=OFF.")
  endif()
  message(STATUS "librnn: MPI not found: no mpi_train "
                 "(apt-get install libopenmpi-dev openmpi-bin)")
  return()
endif()

if(NOT TARGET mpi_train AND _rnn_mpi_testing)
  add_executable(mpi_train "${_rnn_mpi_source}")
  target_link_libraries(mpi_train PRIVATE rnn m MPI::MPI_C)
  set_target_properties(mpi_train PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${PROJECT_BINARY_DIR}")
  rnn_target_warnings(mpi_train)
endif()

if(NOT _rnn_mpi_testing OR NOT TARGET mpi_train)
  return()
endif()

if(NOT MPIEXEC_EXECUTABLE)
  message(FATAL_ERROR "no mpiexec/mpirun found: the test mpi_equivalence needs "
                      "one. Run ./build.sh deps (or apt-get install openmpi-bin), "
                      "or configure with -DBUILD_TESTING=OFF.")
endif()

# The checker needs only Python's standard library.
if(EXISTS /usr/bin/python3)
  set(_rnn_mpi_python /usr/bin/python3)
else()
  find_package(Python3 COMPONENTS Interpreter QUIET)
  set(_rnn_mpi_python "${Python3_EXECUTABLE}")
endif()
if(NOT _rnn_mpi_python)
  message(FATAL_ERROR "no python3: the test mpi_equivalence needs one. Run "
                      "./build.sh deps (or apt-get install python3), or "
                      "configure with -DBUILD_TESTING=OFF.")
endif()

# Open MPI refuses to run as root and to start more ranks than it counts
# slots (cores) without these; other MPIs get MPIEXEC_PREFLAGS only.
set(_rnn_mpi_preflags "")
foreach(_flag IN LISTS MPIEXEC_PREFLAGS)
  list(APPEND _rnn_mpi_preflags "--preflag=${_flag}")
endforeach()
execute_process(COMMAND "${MPIEXEC_EXECUTABLE}" --version
                OUTPUT_VARIABLE _rnn_mpiexec_version ERROR_QUIET TIMEOUT 20)
if(_rnn_mpiexec_version MATCHES "Open MPI|OpenRTE")
  list(APPEND _rnn_mpi_preflags "--preflag=--allow-run-as-root" "--preflag=--oversubscribe")
endif()

set(_rnn_mpi_env "OPENBLAS_NUM_THREADS=1")
if(RNN_SANITIZE)
  # Open MPI's own allocations outlive MPI_Finalize: LeakSanitizer would fail
  # every run on them. ASan and UBSan still check librnn and the program.
  list(APPEND _rnn_mpi_env
       "ASAN_OPTIONS=detect_leaks=0:abort_on_error=0"
       "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()

add_test(NAME mpi_equivalence
  COMMAND "${_rnn_mpi_python}" "${PROJECT_SOURCE_DIR}/tests/mpi_equivalence.py"
          --exe "$<TARGET_FILE:mpi_train>"
          --mpiexec "${MPIEXEC_EXECUTABLE}"
          "--np-flag=${MPIEXEC_NUMPROC_FLAG}"
          ${_rnn_mpi_preflags}
          --workdir "${PROJECT_BINARY_DIR}/mpi-work"
          --batch 16)
set_tests_properties(mpi_equivalence PROPERTIES
  ENVIRONMENT "${_rnn_mpi_env}"
  LABELS mpi
  TIMEOUT 300)
