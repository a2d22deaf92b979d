/* SPDX-License-Identifier: MIT
 *
 * fuzz_api_script.h - the encoding of fuzz_api.c inputs, shared with the
 * seed generator (gen_corpus.c).
 *
 * An input is a configuration, then a script of 4-byte operations:
 *
 *   byte 0      allocation to fail (1-based count of librnn allocations in
 *               this input; 0: none)
 *   bytes 1-3   input_size, hidden_size, num_layers (size codes, below)
 *   byte 4      bit 0 bidirectional, 1 relu, 2 bias, 3 batch_first,
 *               4 head on every step; bits 5-7 select one corrupted field
 *               (0 none, 1 smaller struct_size, 2 struct_size of no layout,
 *               3 nonlinearity 2, 4 bias 2, 5 head_mode -1, 6 reserved 1,
 *               7 bidirectional 2)
 *   byte 5      output_size (size code)
 *   then        {opcode, a, b, flags} repeated; a short last op is padded
 *               with zeros
 *
 * Size codes: a byte below 0xf0 is a small size (taken modulo a per-use
 * bound + 1, so 0 occurs); 0xf0 and up index a table of hostile values
 * (-1, INT32_MAX, INT32_MIN, 1 << 30, ...).
 */
#ifndef RNN_FUZZ_API_SCRIPT_H
#define RNN_FUZZ_API_SCRIPT_H

enum fuzz_op {
    FUZZ_OP_FORWARD = 0,       /* a = T, b = B                           */
    FUZZ_OP_HEAD_FORWARD = 1,
    FUZZ_OP_HEAD_BACKWARD = 2,
    FUZZ_OP_BACKWARD = 3,
    FUZZ_OP_OPTIM = 4,         /* a = kind and settings, b = lr code     */
    FUZZ_OP_LOSS = 5,          /* a = n, b = classes                     */
    FUZZ_OP_STEP = 6,          /* a = batch, b = steps                   */
    FUZZ_OP_TENSOR = 7,        /* a = index                              */
    FUZZ_OP_SAVE_LOAD = 8,     /* a = capacity cut                       */
    FUZZ_OP_CLIP = 9,          /* a = max_norm code                      */
    FUZZ_OP_INIT = 10,         /* a = scheme, b = seed                   */
    FUZZ_OP_DIAG = 11,
    FUZZ_OP_NULLS = 12,        /* every model call with NULL arguments   */
    FUZZ_OP_COUNT = 13
};

/* Flags of an operation: which optional arrays are passed (the rest are
 * NULL), and deliberate misuse. */
enum fuzz_flags {
    FUZZ_ARRAY_0 = 1 << 0,
    FUZZ_ARRAY_1 = 1 << 1,
    FUZZ_ARRAY_2 = 1 << 2,
    FUZZ_ARRAY_3 = 1 << 3,
    FUZZ_ALL_ARRAYS = 0x0f,
    FUZZ_LENGTHS = 1 << 4,     /* forward: per-sequence lengths          */
    FUZZ_BAD = 1 << 5,         /* a bad length, struct_size, value...    */
    FUZZ_CHECK_FINITE = 1 << 6,/* turn the NaN/Inf check mode on first   */
    FUZZ_HUGE_VALUES = 1 << 7  /* inputs of 1e30 (relu overflows)        */
};

#endif /* RNN_FUZZ_API_SCRIPT_H */
