/* SPDX-License-Identifier: MIT
 *
 * version.c - the run-time version.
 */
#include "internal.h"

#define RNN_STR2(x) #x
#define RNN_STR(x) RNN_STR2(x)

const char *rnn_version(void)
{
    return RNN_STR(RNN_VERSION_MAJOR) "." RNN_STR(RNN_VERSION_MINOR) "." RNN_STR(
        RNN_VERSION_PATCH);
}

int32_t rnn_version_number(void)
{
    return RNN_VERSION_NUMBER;
}
