# SPDX-License-Identifier: MIT
#
# ctest bench_quick: runs `rnn_bench --quick --csv -` once per cell (--cell
# rnn, lstm, gru) and checks that it exits 0, prints the CSV header, and for
# every standard config a librnn row of that cell, an infer row
# (rnn_forward_inference), a floor row and a part (read from the library's
# profiling build). It never judges speed.
#   cmake -DRNN_BENCH=<path to rnn_bench> -P smoke.cmake
if(NOT RNN_BENCH)
  message(FATAL_ERROR "pass -DRNN_BENCH=<path to rnn_bench>")
endif()
foreach(cell rnn lstm gru)
  execute_process(COMMAND "${RNN_BENCH}" --quick --cell ${cell} --csv -
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${err}")
  message("${out}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "rnn_bench --quick --cell ${cell} exited with ${rc}")
  endif()
  if(NOT out MATCHES "\nimpl,label,backend,library,threads,config,[^\n]*,cell\n")
    message(FATAL_ERROR "rnn_bench --quick --cell ${cell} printed no CSV header")
  endif()
  foreach(config a b c d e)
    if(NOT out MATCHES "\nlibrnn,[^\n]*,${config},[0-9][^\n]*,${cell}\n")
      message(FATAL_ERROR "rnn_bench --quick --cell ${cell} printed no librnn row "
                          "of that cell for config ${config}")
    endif()
    if(NOT out MATCHES "\nlibrnn,[^\n]*,${config},[^\n]*,infer,whole,")
      message(FATAL_ERROR "rnn_bench --quick --cell ${cell} printed no infer row for "
                          "config ${config}")
    endif()
    if(NOT out MATCHES "\nblas,[^\n]*,${config},[^\n]*,(forward|step),whole,")
      message(FATAL_ERROR "rnn_bench --quick --cell ${cell} printed no floor row for "
                          "config ${config}")
    endif()
    if(NOT out MATCHES "\nblas,[^\n]*,${config},[^\n]*,(fwd|step)\\.rec,part,")
      message(FATAL_ERROR "rnn_bench --quick --cell ${cell} printed no part row for "
                          "config ${config}")
    endif()
  endforeach()
endforeach()
