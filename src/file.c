/* SPDX-License-Identifier: MIT
 *
 * file.c - whole files in and out: read a regular file into memory, and
 * write one atomically (temporary file, fsync, rename, directory fsync), so
 * that a crash leaves the old file or the whole new one, never a part.
 */
#define _POSIX_C_SOURCE 200809L /* fsync, strerror_r, O_CLOEXEC, getpid */

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static rnn_status fail_errno(const char *func, int err, const char *what,
                             const char *path)
{
    char reason[128];
    if (strerror_r(err, reason, sizeof reason) != 0)
        snprintf(reason, sizeof reason, "error %d", err);
    return rnn__fail(RNN_E_IO, func, "%s \"%.200s\": %s", what, path, reason);
}

/* Reads a whole regular file into a new buffer (freed with rnn__free). */
rnn_status rnn__read_file(const char *path, unsigned char **out,
                          size_t *out_size, const char *func)
{
    *out = NULL;
    /* O_NONBLOCK: opening a FIFO must not hang (it is refused below). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return fail_errno(func, errno, "cannot open", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        const int err = errno;
        close(fd);
        return fail_errno(func, err, "cannot stat", path);
    }
    if (!S_ISREG(st.st_mode) || st.st_size < 0 ||
        (uintmax_t)st.st_size > SIZE_MAX) {
        close(fd);
        return rnn__fail(RNN_E_IO, func, "\"%.200s\" is %s", path,
                         S_ISREG(st.st_mode) ? "too large to read into memory"
                                             : "not a regular file");
    }
    const size_t size = (size_t)st.st_size;
    unsigned char *bytes = rnn__malloc(size);
    if (bytes == NULL) {
        close(fd);
        return rnn__fail_nomem(func);
    }
    size_t done = 0;
    while (done < size) {
        size_t chunk = size - done < ((size_t)1 << 30) ? size - done
                                                       : (size_t)1 << 30;
        ssize_t got = read(fd, bytes + done, chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            const int err = got < 0 ? errno : 0;
            close(fd);
            rnn__free(bytes);
            if (err == 0)
                return rnn__fail(RNN_E_IO, func,
                                 "\"%.200s\" shrank while being read", path);
            return fail_errno(func, err, "cannot read", path);
        }
        done += (size_t)got;
    }
    close(fd);
    *out = bytes;
    *out_size = size;
    return RNN_OK;
}

/* 0, or the errno of the failed write. */
static int write_all(int fd, const void *bytes, size_t n)
{
    const unsigned char *p = bytes;
    while (n > 0) {
        ssize_t put = write(fd, p, n);
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0)
            return errno;
        p += put;
        n -= (size_t)put;
    }
    return 0;
}

/* The data section: the floats themselves on a little-endian host, else
 * byte-swapped through a small buffer. */
static int write_floats(int fd, const float *data, size_t count)
{
    if (rnn__st_host_is_little_endian())
        return write_all(fd, data, count * sizeof(float));
    unsigned char chunk[4096];
    const size_t per_chunk = sizeof chunk / sizeof(float);
    for (size_t i = 0; i < count; i += per_chunk) {
        const size_t n = count - i < per_chunk ? count - i : per_chunk;
        rnn__st_encode(chunk, data + i, n);
        int err = write_all(fd, chunk, n * sizeof(float));
        if (err != 0)
            return err;
    }
    return 0;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Creates `name` (ending in six characters to replace) exclusively, like
 * mkstemp, but with mode 0666 so that the user's umask decides the final
 * file's permissions as for any file they write; mkstemp's 0600 would make
 * every saved model private to its owner. */
static int create_temp(char *name)
{
    static const char letters[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static _Thread_local uint64_t calls;
    struct timespec now;
    timespec_get(&now, TIME_UTC);
    uint64_t state = (uint64_t)now.tv_nsec ^ (uint64_t)now.tv_sec << 30 ^
                     (uint64_t)getpid() << 40 ^ (uint64_t)(uintptr_t)&now ^
                     ++calls;
    char *suffix = name + strlen(name) - 6;
    for (int attempt = 0; attempt < 100; ++attempt) {
        uint64_t bits = splitmix64(&state);
        for (int i = 0; i < 6; ++i, bits >>= 8)
            suffix[i] = letters[bits % (sizeof letters - 1)];
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

/* Makes the rename durable. A file system that cannot sync directories
 * (EINVAL) or a directory we may write but not read (EACCES) leaves that to
 * the system: the new file is in place either way. */
/* `dir` is scratch of at least strlen(path) + 2 bytes: nothing is allocated
 * here, because the new file is already in place and a failure now would
 * misreport the save. */
static rnn_status sync_directory(const char *path, char *dir, const char *func)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
    memcpy(dir, slash == NULL ? "." : path, len);
    dir[len] = '\0';
    int err = 0;
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = errno;
    } else {
        if (fsync(fd) != 0)
            err = errno;
        close(fd);
    }
    rnn_status status = RNN_OK;
    if (err != 0 && err != EINVAL && err != EACCES)
        status = fail_errno(func, err, "saved, but cannot sync the directory of",
                            path);
    return status;
}

/* Writes header + data to a temporary file next to `path`, flushes it to
 * disk and renames it over `path`: readers and crashes see the old file or
 * the whole new one, never a part. On failure the temporary file is
 * removed. */
static rnn_status save_atomic(const char *path, const unsigned char *header,
                              size_t header_size, const float *data,
                              size_t count, const char *func)
{
    static const char suffix[] = ".tmp.XXXXXX";
    const size_t len = strlen(path);
    if (len == 0)
        return rnn__fail(RNN_E_INVALID_ARG, func, "path is empty");
    if (len > SIZE_MAX - sizeof suffix)
        return rnn__fail(RNN_E_INVALID_ARG, func, "path is too long");
    char *temp = rnn__malloc(len + sizeof suffix);
    if (temp == NULL)
        return rnn__fail_nomem(func);
    memcpy(temp, path, len);
    memcpy(temp + len, suffix, sizeof suffix);

    int fd = create_temp(temp);
    if (fd < 0) {
        rnn_status status = fail_errno(func, errno,
                                       "cannot create a temporary file for", path);
        rnn__free(temp);
        return status;
    }
    const char *what = "cannot write";
    int err = write_all(fd, header, header_size);
    if (err == 0)
        err = write_floats(fd, data, count);
    if (err == 0 && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && err == 0)
        err = errno;
    if (err == 0 && rename(temp, path) != 0) {
        err = errno;
        what = "cannot rename the temporary file over";
    }
    if (err != 0) {
        unlink(temp);
        rnn__free(temp);
        return fail_errno(func, err, what, path);
    }
    rnn_status status = sync_directory(path, temp, func);
    rnn__free(temp);
    return status;
}

/* Builds the header with `build` (which measures when out is NULL) and
 * saves it with the data. */
rnn_status rnn__save_file(const char *path, const void *object,
                          size_t (*build)(const void *object,
                                          unsigned char *out, size_t cap),
                          const float *data, size_t count, const char *func)
{
    const size_t header_size = build(object, NULL, 0);
    unsigned char *header = rnn__malloc(header_size);
    if (header == NULL)
        return rnn__fail_nomem(func);
    build(object, header, header_size);
    rnn_status status = save_atomic(path, header, header_size, data, count,
                                    func);
    rnn__free(header);
    return status;
}
