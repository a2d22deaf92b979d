/* SPDX-License-Identifier: MIT
 *
 * file.c - whole files in and out: read a regular file into memory, and
 * write one atomically (temporary file, fsync, rename, directory fsync), so
 * that a crash leaves the old file or the whole new one, never a part;
 * where a save's bytes go (counted, the caller's buffer, a file) and where
 * a load's come from (the caller's bytes, a file); and rnn_save_cleanup,
 * which removes the temporary files crashed saves left. It knows neither
 * the format nor models: the callers build the header and hand it down.
 */
/* fsync, strerror_r, O_CLOEXEC, O_NOFOLLOW, openat, fstatat, unlinkat,
 * dirfd, getpid */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h> /* flock: Linux and the BSDs, not POSIX */
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A save to `path` writes `path` + temp_suffix, the X replaced by letters of
 * temp_letters (rnn.h documents the pattern: rnn_save_cleanup matches it). */
static const char temp_suffix[] = ".tmp.XXXXXX";
static const char temp_letters[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
enum { TEMP_RANDOM = 6 };

static rnn_status fail_errno(const char *func, int err, const char *what,
                             const char *path)
{
    char reason[128];
    if (strerror_r(err, reason, sizeof reason) != 0)
        snprintf(reason, sizeof reason, "error %d", err);
    return rnn__fail(RNN_E_IO, func, "%s \"%.200s\": %s", what, path, reason);
}

/* Reads a whole regular file into a new buffer (freed with rnn__free). */
static rnn_status read_file(const char *path, unsigned char **out,
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
 * every saved model private to its owner.
 * The file is locked (flock) until the caller closes it: the lock is how
 * rnn_save_cleanup tells a live save from a crashed one. The lock is not
 * waited for: only a cleaner can hold it on so new a file, and that cleaner
 * is about to remove it, which save_atomic notices before its rename. A file
 * system that cannot lock saves unlocked, and the cleaner, unable to lock
 * too, leaves its files alone. */
static int create_temp(char *name)
{
    static _Thread_local uint64_t calls;
    struct timespec now;
    timespec_get(&now, TIME_UTC);
    uint64_t state = (uint64_t)now.tv_nsec ^ (uint64_t)now.tv_sec << 30 ^
                     (uint64_t)getpid() << 40 ^ (uint64_t)(uintptr_t)&now ^
                     ++calls;
    char *suffix = name + strlen(name) - TEMP_RANDOM;
    for (int attempt = 0; attempt < 100; ++attempt) {
        uint64_t bits = splitmix64(&state);
        for (int i = 0; i < TEMP_RANDOM; ++i, bits >>= 8)
            suffix[i] = temp_letters[bits % (sizeof temp_letters - 1)];
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            (void)flock(fd, LOCK_EX | LOCK_NB);
            return fd;
        }
        if (errno != EEXIST)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

/* Writes the directory of `path` into `dir` (at least strlen(path) + 2
 * bytes) and returns the last component of `path`. */
static const char *split_path(const char *path, char *dir)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
    memcpy(dir, slash == NULL ? "." : path, len);
    dir[len] = '\0';
    return slash == NULL ? path : slash + 1;
}

/* Makes the rename durable. A file system that cannot sync directories
 * (EINVAL) or a directory we may write but not read (EACCES) leaves that to
 * the system: the new file is in place either way. */
/* `dir` is scratch of at least strlen(path) + 2 bytes: nothing is allocated
 * here, because the new file is already in place and a failure now would
 * misreport the save. */
static rnn_status sync_directory(const char *path, char *dir, const char *func)
{
    split_path(path, dir);
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
    const size_t len = strlen(path);
    if (len == 0)
        return rnn__fail(RNN_E_INVALID_ARG, func, "path is empty");
    if (len > SIZE_MAX - sizeof temp_suffix)
        return rnn__fail(RNN_E_INVALID_ARG, func, "path is too long");
    char *temp = rnn__malloc(len + sizeof temp_suffix);
    if (temp == NULL)
        return rnn__fail_nomem(func);
    memcpy(temp, path, len);
    memcpy(temp + len, temp_suffix, sizeof temp_suffix);

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
    struct stat st;
    if (err == 0 && fstat(fd, &st) != 0)
        err = errno;
    /* Removed by a cleaner before create_temp locked it: renaming the name
     * now could move another file. */
    bool removed = err == 0 && st.st_nlink == 0;
    if (removed) {
        err = ENOENT;
        what = "rnn_save_cleanup in another process removed the temporary "
               "file of";
    }
    if (err == 0 && rename(temp, path) != 0) {
        err = errno;
        what = "cannot rename the temporary file over";
    }
    /* Closed only now, so that the lock covers the temporary file until it
     * is one no more; fsync has reported any write error already. */
    close(fd);
    if (err != 0) {
        if (!removed)
            unlink(temp);
        rnn__free(temp);
        return fail_errno(func, err, what, path);
    }
    rnn_status status = sync_directory(path, temp, func);
    rnn__free(temp);
    return status;
}

/* ---- where a save's bytes go, where a load's come from ------------------ */

rnn_save_to rnn__save_to_size(size_t *size)
{
    const rnn_save_to to = {.size = size, .needed = size,
                            .needed_name = "size"};
    return to;
}

rnn_save_to rnn__save_to_buffer(void *buffer, size_t capacity, size_t *written,
                                const char *size_func)
{
    const rnn_save_to to = {.buffer = buffer, .capacity = capacity,
                            .size = written, .size_func = size_func,
                            .needed = buffer, .needed_name = "buffer"};
    return to;
}

rnn_save_to rnn__save_to_file(const char *path)
{
    const rnn_save_to to = {.path = path, .needed = path,
                            .needed_name = "path"};
    return to;
}

rnn_status rnn__save_check(const rnn_save_to *to, const void *object,
                           const char *object_name, const char *func)
{
    if (object != NULL && to->needed != NULL)
        return RNN_OK;
    return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                     object == NULL ? object_name : to->needed_name);
}

rnn_status rnn__save_begin(const rnn_save_to *to, size_t header_size,
                           size_t count, unsigned char **header,
                           const char *func)
{
    *header = NULL;
    const size_t data = count * sizeof(float); /* in memory: it fits */
    if (data > SIZE_MAX - header_size)
        return rnn__fail(RNN_E_SHAPE, func, "the file size overflows");
    const size_t size = header_size + data;
    if (to->path != NULL) {
        /* Measured first by the caller, so one allocation. */
        *header = rnn__malloc(header_size);
        return *header == NULL ? rnn__fail_nomem(func) : RNN_OK;
    }
    if (to->buffer != NULL && to->capacity < size)
        return rnn__fail(RNN_E_SHAPE, func,
                         "capacity %zu is below the %zu bytes needed (see %s)",
                         to->capacity, size, to->size_func);
    *header = to->buffer;
    return RNN_OK;
}

rnn_status rnn__save_end(const rnn_save_to *to, unsigned char *header,
                         size_t header_size, const float *data, size_t count,
                         const char *func)
{
    rnn_status status = RNN_OK;
    if (to->path != NULL) {
        status = save_atomic(to->path, header, header_size, data, count, func);
        rnn__free(header);
    } else if (to->buffer != NULL) {
        rnn__st_encode(to->buffer + header_size, data, count);
    }
    if (status == RNN_OK && to->size != NULL)
        *to->size = header_size + count * sizeof(float);
    return status;
}

rnn_status rnn__load_begin(rnn_load_from *from, bool has_out,
                           const char *func)
{
    from->owned = NULL;
    if (!has_out)
        return rnn__fail(RNN_E_INVALID_ARG, func, "out is NULL");
    if (from->is_file ? from->path == NULL : from->bytes == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         from->is_file ? "path" : "data");
    if (!from->is_file)
        return RNN_OK;
    rnn_status status =
        read_file(from->path, &from->owned, &from->size, func);
    from->bytes = from->owned;
    return status;
}

void rnn__load_end(rnn_load_from *from)
{
    rnn__free(from->owned);
    from->owned = NULL;
}

/* Whether `name` is `base` + temp_suffix with each X one of temp_letters:
 * exactly the names create_temp makes for a save to `base`. */
static bool is_temp_name(const char *name, const char *base, size_t base_len)
{
    const size_t fixed = sizeof temp_suffix - 1 - TEMP_RANDOM;
    if (strncmp(name, base, base_len) != 0 ||
        strncmp(name + base_len, temp_suffix, fixed) != 0)
        return false;
    const char *random = name + base_len + fixed;
    for (int i = 0; i < TEMP_RANDOM; ++i)
        if (random[i] == '\0' || strchr(temp_letters, random[i]) == NULL)
            return false;
    return random[TEMP_RANDOM] == '\0';
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Removes the file `name` of the directory `dir` if it is a regular file
 * that no live save holds locked: 1 when removed, 0 when left (locked, not
 * a regular file, gone, or on a file system that cannot lock), -1 with
 * errno on an error. */
static int remove_leftover(int dir, const char *name)
{
    /* Looked at before it is opened: opening a device or a FIFO can have
     * effects of its own. */
    struct stat by_name, opened;
    if (fstatat(dir, name, &by_name, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISREG(by_name.st_mode))
        return 0;
    const int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
                                         O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ELOOP ? 0 : -1;
    int result = 0;
    if (fstat(fd, &opened) != 0) {
        result = -1;
    } else if (S_ISREG(opened.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0) {
        /* Locked, so no live save owns the file or can rename it away: if
         * the name still leads to it, it is a leftover. */
        if (fstatat(dir, name, &by_name, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT)
                result = -1;
        } else if (same_file(&by_name, &opened)) {
            if (unlinkat(dir, name, 0) == 0)
                result = 1;
            else if (errno != ENOENT)
                result = -1;
        }
    }
    const int err = errno;
    close(fd);
    errno = err;
    return result;
}

rnn_status rnn_save_cleanup(const char *path, int32_t *removed)
{
    static const char *func = "rnn_save_cleanup";
    if (path == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "path is NULL");
    const size_t len = strlen(path);
    if (len == 0)
        return rnn__fail(RNN_E_INVALID_ARG, func, "path is empty");
    if (len > SIZE_MAX - 2)
        return rnn__fail(RNN_E_INVALID_ARG, func, "path is too long");
    char *dir = rnn__malloc(len + 2);
    if (dir == NULL)
        return rnn__fail_nomem(func);
    const char *base = split_path(path, dir);
    const size_t base_len = strlen(base);
    DIR *listing = opendir(dir);
    if (listing == NULL) {
        const rnn_status status = fail_errno(func, errno,
                                             "cannot list the directory of",
                                             path);
        rnn__free(dir);
        return status;
    }
    rnn_status status = RNN_OK;
    int32_t count = 0;
    for (;;) {
        errno = 0;
        const struct dirent *entry = readdir(listing);
        if (entry == NULL) {
            if (errno != 0)
                status = fail_errno(func, errno,
                                    "cannot list the directory of", path);
            break;
        }
        if (!is_temp_name(entry->d_name, base, base_len))
            continue;
        const int result = remove_leftover(dirfd(listing), entry->d_name);
        if (result < 0) {
            status = fail_errno(func, errno, "cannot remove the leftover",
                                entry->d_name);
            break;
        }
        if (result > 0 && count < INT32_MAX)
            ++count;
    }
    closedir(listing);
    rnn__free(dir);
    if (status == RNN_OK && removed != NULL)
        *removed = count;
    return status;
}
