/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "common/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int
parse_ulong(const char *s, unsigned long min, unsigned long max,
            unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int
read_file_fd(int fd, size_t max, char **buf, size_t *len)
{
	struct stat st;
	size_t got = 0;
	char *data;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size < 0 || (unsigned long long)st.st_size > max)
		return -EFBIG;
	data = malloc((size_t)st.st_size + 1);
	if (!data)
		return -ENOMEM;
	/* The file may shrink under us; never read past what was allocated. */
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;

			free_secret(data, (size_t)st.st_size + 1);
			return r;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	data[got] = '\0';
	*buf = data;
	*len = got;
	return 0;
}

int
read_file_at(int dirfd, const char *name, size_t max, char **buf, size_t *len)
{
	/* Non-blocking: a FIFO in a file's place is refused, not waited on. */
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	                O_NONBLOCK);
	int r;

	if (fd < 0)
		return -errno;
	r = read_file_fd(fd, max, buf, len);
	close(fd);
	return r;
}

/*
 * Root editing a service's files (keys, clients) must not take them from
 * the service: the new file keeps the owner of the one it replaces, or
 * of its directory.
 */
static int
keep_owner(int dirfd, const char *name, int fd)
{
	struct stat st;

	if (geteuid() != 0)
		return 0;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    fstat(dirfd, &st) < 0)
		return -errno;
	return fchown(fd, st.st_uid, st.st_gid) < 0 ? -errno : 0;
}

bool
is_temp_file_name(const char *name)
{
	size_t n = strlen(TEMP_FILE_PREFIX);

	if (strncmp(name, TEMP_FILE_PREFIX, n) != 0 ||
	    strlen(name) != n + TEMP_FILE_HEX)
		return false;
	for (name += n; *name; name++)
		if (!((*name >= '0' && *name <= '9') ||
		      (*name >= 'a' && *name <= 'f')))
			return false;
	return true;
}

static int
write_file_flags(int dirfd, const char *name, const void *buf, size_t len,
                 mode_t mode, unsigned rename_flags)
{
	_Static_assert(TEMP_FILE_HEX == 12, "six random bytes, in hex");
	unsigned char rnd[TEMP_FILE_HEX / 2];
	char tmp[sizeof(TEMP_FILE_PREFIX) + TEMP_FILE_HEX];
	int fd, lock, r;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	/* Starts with a dot and lacks ".jwk": never taken for a key. */
	snprintf(tmp, sizeof(tmp), TEMP_FILE_PREFIX "%02x%02x%02x%02x%02x%02x",
	         rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);

	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	            O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	/* Locked until renamed, so that a server starting meanwhile sees a
	   temp file in use, not one a killed writer left. The lock is on a
	   read-only open: closing fd before the rename reports the write
	   under the temp name, not as a change to a key file. */
	lock = openat(dirfd, tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	r = lock < 0 || flock(lock, LOCK_EX) < 0 ? -errno : 0;
	if (r == 0)
		r = fchmod(fd, mode) < 0 ? -errno : 0;
	if (r == 0)
		r = keep_owner(dirfd, name, fd);
	if (r == 0)
		r = write_fd(fd, buf, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat2(dirfd, tmp, dirfd, name, rename_flags) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dirfd, tmp, 0);
	if (lock >= 0)
		close(lock);
	if (r < 0)
		return r;
	return fsync(dirfd) < 0 ? -errno : 0;
}

int
write_file_at(int dirfd, const char *name, const void *buf, size_t len,
              mode_t mode)
{
	return write_file_flags(dirfd, name, buf, len, mode, RENAME_NOREPLACE);
}

int
replace_file_at(int dirfd, const char *name, const void *buf, size_t len,
                mode_t mode)
{
	return write_file_flags(dirfd, name, buf, len, mode, 0);
}

int
parse_duration(const char *s, unsigned long long max, unsigned long long *out)
{
	static const struct { char unit; unsigned long mult; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
		{ 'w', 604800 },
	};
	char num[24];
	size_t n = strlen(s);
	unsigned long v;

	if (n < 2 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n - 1);
	num[n - 1] = '\0';
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (units[i].unit == s[n - 1] && max / units[i].mult >= 1 &&
		    parse_ulong(num, 1, max / units[i].mult, &v) == 0) {
			*out = (unsigned long long)v * units[i].mult;
			return 0;
		}
	return -EINVAL;
}

int
text_each_line(const char *text, size_t len, char *buf, size_t size,
               int (*fn)(char *line, void *arg), void *arg, size_t *line)
{
	size_t pos = 0;
	int r;

	*line = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - text - pos) : len - pos;

		(*line)++;
		if (n >= size)
			return -EINVAL;
		memcpy(buf, text + pos, n);
		buf[n] = '\0';
		pos += n + 1;
		r = fn(buf, arg);
		if (r != 0)
			return r;
	}
	return 0;
}

void
free_secret(void *p, size_t len)
{
	if (!p)
		return;
	explicit_bzero(p, len);
	free(p);
}

void
free_secret_str(char *s)
{
	if (s)
		free_secret(s, strlen(s));
}

bool
equal_const_time(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < len; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

int
random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

unsigned long long
now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL +
	       (unsigned long long)ts.tv_nsec / 1000ULL;
}

const uint8_t *
sockaddr_ip(const struct sockaddr *sa, int *family)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	const uint8_t *a;

	if (sa && sa->sa_family == AF_INET) {
		*family = AF_INET;
		return (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	}
	if (!sa || sa->sa_family != AF_INET6)
		return NULL;
	a = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (memcmp(a, mapped, sizeof(mapped)) == 0) {
		*family = AF_INET;
		return a + sizeof(mapped);
	}
	*family = AF_INET6;
	return a;
}

void
sockaddr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in4 = (const void *)sa;

		inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in4->sin_port));
	} else {
		snprintf(buf, len, "-");
	}
}

int
read_fd(int fd, size_t max, uint8_t **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	uint8_t *buf = malloc(cap + 1);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t got;

		if (n == cap) {
			uint8_t *grown;

			if (cap >= max) {
				free_secret(buf, cap + 1);
				return -EFBIG;
			}
			cap = cap * 2 > max ? max : cap * 2;
			/* realloc may leave a copy behind: copy by hand. */
			grown = malloc(cap + 1);
			if (!grown) {
				free_secret(buf, n);
				return -ENOMEM;
			}
			memcpy(grown, buf, n);
			free_secret(buf, n);
			buf = grown;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int r = -errno;

			free_secret(buf, cap + 1);
			return r;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int
write_fd(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
