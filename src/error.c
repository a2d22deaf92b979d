/* SPDX-License-Identifier: MIT
 *
 * error.c - status texts and the thread-local last-error message.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { RNN_ERROR_MAX = 512 };

/* One buffer per thread: a message is valid until the thread's next failing
 * call, and threads never see each other's errors. */
static _Thread_local char last_error[RNN_ERROR_MAX];

const char *rnn_strerror(rnn_status status)
{
    switch (status) {
    case RNN_OK: return "success";
    case RNN_E_INVALID_ARG: return "invalid argument";
    case RNN_E_NOMEM: return "out of memory";
    case RNN_E_SHAPE: return "shape mismatch or size overflow";
    case RNN_E_UNSUPPORTED: return "unsupported by this model or build";
    case RNN_E_IO: return "input/output error";
    case RNN_E_FORMAT: return "invalid model file format";
    case RNN_E_NONFINITE: return "non-finite value (NaN or Inf)";
    case RNN_E_STATE: return "call out of order";
    }
    return "unknown status code";
}

const char *rnn_last_error(void)
{
    return last_error;
}

void rnn_clear_error(void)
{
    last_error[0] = '\0';
}

rnn_status rnn__fail(rnn_status status, const char *func, const char *fmt, ...)
{
    int used = snprintf(last_error, sizeof last_error, "%s: ", func);
    if (used < 0 || (size_t)used >= sizeof last_error)
        return status;
    va_list args;
    va_start(args, fmt);
    vsnprintf(last_error + used, sizeof last_error - (size_t)used, fmt, args);
    va_end(args);
    return status;
}

rnn_status rnn__fail_nomem(const char *func)
{
    /* Copying into the static buffer cannot fail or allocate. */
    size_t len = strlen(func);
    static const char text[] = ": out of memory";
    if (len + sizeof text > sizeof last_error)
        len = sizeof last_error - sizeof text;
    memcpy(last_error, func, len);
    memcpy(last_error + len, text, sizeof text);
    return RNN_E_NOMEM;
}

rnn_status rnn__fail_context(rnn_status status, const char *func,
                             const char *context)
{
    /* Copied first: rnn__fail writes the buffer the message is in. */
    char message[400];
    const char *last = last_error;
    const size_t len = strlen(func);
    if (strncmp(last, func, len) == 0 && strncmp(last + len, ": ", 2) == 0)
        last += len + 2;
    snprintf(message, sizeof message, "%.399s", last);
    return rnn__fail(status, func, "%s: %s", context, message);
}
