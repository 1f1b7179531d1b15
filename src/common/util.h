/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_UTIL_H
#define TETHER_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Parses a decimal number that must fill all of s and lie in [min, max].
 * Returns 0, or -EINVAL (not a number, trailing text) or -ERANGE.
 */
int parse_ulong(const char *s, unsigned long min, unsigned long max,
                unsigned long *out);

/*
 * Reads the regular file name (relative to dirfd) into a NUL-terminated
 * buffer the caller frees (with free_secret if it held a secret).
 * Files larger than max bytes are refused with -EFBIG before any allocation.
 */
int read_file_at(int dirfd, const char *name, size_t max, char **buf,
                 size_t *len);

/* A duration, "N" followed by s, m, h, d or w, of 1 s to max seconds.
   0 or -EINVAL. */
int parse_duration(const char *s, unsigned long long max,
                   unsigned long long *out);

/*
 * Calls fn with each line of text (len bytes; lines end at '\n', the last
 * needs none), copied NUL-terminated into buf (size bytes), until fn
 * returns non-zero. *line is the number of the last line read. Returns 0,
 * -EINVAL for a line that does not fit buf, or what fn returned.
 */
int text_each_line(const char *text, size_t len, char *buf, size_t size,
                   int (*fn)(char *line, void *arg), void *arg, size_t *line);

/* Reads the regular file open at fd, as read_file_at does. */
int read_file_fd(int fd, size_t max, char **buf, size_t *len);

/* write_file_at's temporary files: the prefix, then this many lowercase
   hex digits; each is locked (flock) by its writer until renamed. */
#define TEMP_FILE_PREFIX ".tmp-"
#define TEMP_FILE_HEX 12

/* True when name is exactly what write_file_at names a temporary file. */
bool is_temp_file_name(const char *name);

/*
 * Creates name in dirfd with mode, holding exactly len bytes of buf, or leaves
 * no trace: the bytes go to a temporary file that is synced and then renamed
 * into place, refusing to replace an existing name (-EEXIST).
 */
int write_file_at(int dirfd, const char *name, const void *buf, size_t len,
                  mode_t mode);

/* Like write_file_at, replacing name if it exists: readers see the old
   file or the new one, never a part. */
int replace_file_at(int dirfd, const char *name, const void *buf, size_t len,
                    mode_t mode);

/* Wipes len bytes of p and frees it; accepts NULL. */
/*
 * Reads all of fd, at most max bytes (-EFBIG beyond), NUL-terminated.
 * Growing copies by hand: realloc could leave a secret behind. Free
 * *out with free_secret(*out, *len + 1).
 */
int read_fd(int fd, size_t max, uint8_t **out, size_t *len);

/* Writes all of buf, through short writes and EINTR. 0 or -errno. */
int write_fd(int fd, const void *buf, size_t len);

void free_secret(void *p, size_t len);

/* Wipes and frees a NUL-terminated string; accepts NULL. */
void free_secret_str(char *s);

/* True when a and b hold the same len bytes; time depends on len only. */
bool equal_const_time(const void *a, const void *b, size_t len);

/*
 * Fills buf with len bytes from the kernel's CSPRNG (getrandom(2), which
 * waits for it to be seeded). No user-space DRBG to set up: a command
 * that needs a few random bytes pays one system call. 0 or -EIO.
 */
int random_bytes(void *buf, size_t len);

/* Monotonic clock in microseconds. */
unsigned long long now_usec(void);

struct sockaddr;

/* Writes "ADDR:PORT" or "[ADDR]:PORT" (IPv4, IPv6), else "-". */
void sockaddr_format(const struct sockaddr *sa, char *buf, size_t len);

/*
 * The address bytes of an IPv4 or IPv6 peer and their family, an
 * IPv4-mapped IPv6 address (a v4 client of a dual-stack socket) taken as
 * the IPv4 address it is. NULL for anything else.
 */
const uint8_t *sockaddr_ip(const struct sockaddr *sa, int *family);

#endif
