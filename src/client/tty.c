/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "client/tty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "common/util.h"

static int
tty_open(void)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

	return fd < 0 ? -ENXIO : fd;
}

static int
tty_write(int fd, const char *s)
{
	return write_fd(fd, s, strlen(s));
}

/* Reads up to a newline into buf (max bytes, not kept beyond); the length. */
static ssize_t
tty_line(int fd, char *buf, size_t max)
{
	size_t n = 0;
	bool over = false;

	for (;;) {
		char c;
		ssize_t got = read(fd, &c, 1);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0 || c == '\n')
			break;
		if (n < max)
			buf[n++] = c;
		else
			over = true;
	}
	return over ? -E2BIG : (ssize_t)n;
}

int
tty_ask_yes(const char *question)
{
	char answer[4];
	ssize_t n;
	int fd = tty_open();

	if (fd < 0)
		return fd;
	n = tty_write(fd, question) < 0 ? -EIO : tty_line(fd, answer, 4);
	close(fd);
	return n == 1 && (answer[0] == 'y' || answer[0] == 'Y');
}

/* A line of fd in a buffer of its own, NUL-terminated. */
static int
read_line_alloc(int fd, size_t max, char **out, size_t *len)
{
	char *buf = malloc(max + 1);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	n = tty_line(fd, buf, max);
	if (n < 0) {
		free_secret(buf, max + 1);
		return (int)n;
	}
	buf[n] = '\0';
	*out = buf;
	*len = (size_t)n;
	return 0;
}

int
tty_read_secret(const char *prompt, size_t max, char **out, size_t *len)
{
	struct termios saved, quiet;
	int r, fd = tty_open();

	if (fd < 0)
		return fd;
	if (tcgetattr(fd, &saved) < 0) {
		close(fd);
		return -ENXIO;
	}
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) < 0 || tty_write(fd, prompt) < 0)
		r = -EIO;
	else
		r = read_line_alloc(fd, max, out, len);
	tcsetattr(fd, TCSAFLUSH, &saved);
	close(fd);
	return r;
}

int
stdin_read_line(size_t max, char **out, size_t *len)
{
	return read_line_alloc(STDIN_FILENO, max, out, len);
}

int
passphrase_read(const char *prompt, size_t max, char **out, size_t *len)
{
	if (isatty(STDIN_FILENO))
		return tty_read_secret(prompt, max, out, len);
	return stdin_read_line(max, out, len);
}
