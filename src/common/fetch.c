/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "common/fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"

#define REQUEST_HEAD_MAX (URL_PATH_MAX + URL_HOST_MAX + 512)

static int
env_seconds(const char *name, unsigned def_ms, unsigned *out)
{
	const char *v = getenv(name);
	unsigned long s;

	if (!v || !*v) {
		*out = def_ms;
		return 0;
	}
	if (parse_ulong(v, 1, 3600, &s) < 0)
		return -EINVAL;
	*out = (unsigned)s * 1000;
	return 0;
}

int
fetch_timeouts_from_env(struct fetch_timeouts *t)
{
	int r = env_seconds("TETHER_CONNECT_TIMEOUT", FETCH_CONNECT_TIMEOUT_MS,
	                    &t->connect_ms);

	return r < 0 ? r : env_seconds("TETHER_TIMEOUT", FETCH_TOTAL_TIMEOUT_MS,
	                               &t->total_ms);
}

static int
remaining_ms(unsigned long long deadline)
{
	unsigned long long now = now_usec();

	return now >= deadline ? 0 : (int)((deadline - now + 999) / 1000);
}

/* Waits for events on fd until the deadline; -ETIMEDOUT past it. */
static int
wait_fd(int fd, short events, unsigned long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		int ms = remaining_ms(deadline), n;

		if (ms == 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, ms);
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int
connect_one(const struct addrinfo *ai, unsigned long long deadline)
{
	int one = 1, err = 0, fd, r;
	socklen_t elen = sizeof(err);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	            SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	/* One write per request and reply: never wait on Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			r = -errno;
			close(fd);
			return r;
		}
		r = wait_fd(fd, POLLOUT, deadline);
		if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			r = -errno;
		if (r == 0 && err != 0)
			r = -err;
		if (r < 0) {
			close(fd);
			return r;
		}
	}
	return fd;
}

static int
connect_any(const struct url *u, const struct fetch_timeouts *t,
            unsigned long long deadline, struct fetch_result *res)
{
	struct addrinfo hints = {
		.ai_socktype = SOCK_STREAM,
		.ai_protocol = IPPROTO_TCP,
		.ai_flags = u->ipv6 ? AI_NUMERICHOST : 0,
	};
	struct addrinfo *list, *ai;
	int fd = -EHOSTUNREACH, g;

	res->stage = "resolve";
	g = getaddrinfo(u->host, u->port, &hints, &list);
	if (g != 0) {
		snprintf(res->detail, sizeof(res->detail), "%s",
		         g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
		return -EHOSTUNREACH;
	}
	res->stage = "connect";
	for (ai = list; ai; ai = ai->ai_next) {
		unsigned long long each = now_usec() + t->connect_ms * 1000ULL;

		sockaddr_format(ai->ai_addr, res->addr, sizeof(res->addr));
		fd = connect_one(ai, each < deadline ? each : deadline);
		if (fd >= 0 || remaining_ms(deadline) == 0)
			break;
	}
	freeaddrinfo(list);
	return fd;
}

static int
send_all(int fd, const char *p, size_t len, unsigned long long deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			int r = wait_fd(fd, POLLOUT, deadline);

			if (r < 0)
				return r;
			continue;
		}
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
send_request(int fd, const struct url *u, const char *method,
             const char *suffix, const char *ctype, const void *body,
             size_t len, unsigned long long deadline)
{
	char target[URL_PATH_MAX + 128], head[REQUEST_HEAD_MAX];
	char *msg;
	int n, r;

	r = url_target(u, suffix, target, sizeof(target));
	if (r < 0)
		return r;
	n = snprintf(head, sizeof(head),
	             "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\n"
	             "Accept: application/json\r\nConnection: close\r\n"
	             "%s%s%sContent-Length: %zu\r\n\r\n",
	             method, target, u->ipv6 ? "[" : "", u->host,
	             u->ipv6 ? "]" : "", u->port,
	             ctype ? "Content-Type: " : "", ctype ? ctype : "",
	             ctype ? "\r\n" : "", len);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -ENAMETOOLONG;
	/* Head and body in one send: one segment for small requests. */
	msg = malloc((size_t)n + len);
	if (!msg)
		return -ENOMEM;
	memcpy(msg, head, (size_t)n);
	if (len)
		memcpy(msg + n, body, len);
	r = send_all(fd, msg, (size_t)n + len, deadline);
	free(msg);
	return r;
}

static int
receive_response(int fd, unsigned long long deadline, struct fetch_result *res)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap + 1);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;
		int r;

		if (len == cap) {
			char *grown;

			if (cap >= RESPONSE_MAX) {
				free(buf);
				return -EMSGSIZE;
			}
			cap = cap * 2 > RESPONSE_MAX ? RESPONSE_MAX : cap * 2;
			grown = realloc(buf, cap + 1);
			if (!grown) {
				free(buf);
				return -ENOMEM;
			}
			buf = grown;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			r = wait_fd(fd, POLLIN, deadline);
			if (r < 0) {
				free(buf);
				return r;
			}
			continue;
		}
		if (n < 0) {
			r = -errno;
			free(buf);
			return r;
		}
		len += (size_t)n;
		r = response_parse(buf, len, n == 0, &res->response);
		if (r == -EAGAIN)
			continue;
		if (r < 0) {
			free(buf);
			return r;
		}
		res->buffer = buf;
		return 0;
	}
}

int
fetch(const struct url *u, const char *method, const char *suffix,
      const char *content_type, const void *body, size_t len,
      const struct fetch_timeouts *t, struct fetch_result *res)
{
	unsigned long long deadline = now_usec() + t->total_ms * 1000ULL;
	int fd, r;

	memset(res, 0, sizeof(*res));
	snprintf(res->addr, sizeof(res->addr), "-");
	res->stage = "connect";
	if (u->tls)
		return -EPROTONOSUPPORT;
	fd = connect_any(u, t, deadline, res);
	if (fd < 0)
		return fd;
	res->stage = "send";
	r = send_request(fd, u, method, suffix, content_type, body, len,
	                 deadline);
	if (r == 0) {
		res->stage = "receive";
		r = receive_response(fd, deadline, res);
	}
	close(fd);
	return r;
}

void
fetch_done(struct fetch_result *res)
{
	free(res->buffer);
	res->buffer = NULL;
}
