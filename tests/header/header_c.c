/* SPDX-License-Identifier: MIT
 *
 * header_c.c - rnn.h compiles alone as strict ISO C11 (-std=c11 -Wall
 * -Wextra -pedantic -Werror and more, see tests/CMakeLists.txt), and twice
 * (include guard). Nothing may be included before it: the header must bring
 * its own <stddef.h>/<stdint.h>. The program also links and checks that the
 * library it loads has the header's version.
 */
#include "rnn.h"
#include "rnn.h"

#include <stdio.h>
#include <string.h>

/* Pinned forever (rnn.h): a renumbering is an ABI break. */
_Static_assert(RNN_OK == 0 && RNN_E_INVALID_ARG == 1 && RNN_E_NOMEM == 2 &&
               RNN_E_SHAPE == 3 && RNN_E_UNSUPPORTED == 4 && RNN_E_IO == 5 &&
               RNN_E_FORMAT == 6 && RNN_E_NONFINITE == 7 && RNN_E_STATE == 8,
               "rnn_status values changed");
_Static_assert(RNN_VERSION_NUMBER == RNN_VERSION_MAJOR * 10000 +
               RNN_VERSION_MINOR * 100 + RNN_VERSION_PATCH,
               "RNN_VERSION_NUMBER disagrees with its parts");
_Static_assert(offsetof(rnn_config, struct_size) == 0,
               "rnn_config must start with struct_size");

int main(void)
{
    char expect[32];
    const char *version = rnn_version();

    snprintf(expect, sizeof expect, "%d.%d.%d", RNN_VERSION_MAJOR,
             RNN_VERSION_MINOR, RNN_VERSION_PATCH);
    if (rnn_version_number() != RNN_VERSION_NUMBER || version == NULL ||
        strcmp(version, expect) != 0) {
        fprintf(stderr, "FAIL: header %s, library %s (%d)\n", expect,
                version ? version : "(null)", (int)rnn_version_number());
        return 1;
    }
    printf("header_c: rnn.h compiles as C11; library %s\n", version);
    return 0;
}
