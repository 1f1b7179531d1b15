/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * tetherd KEYSDIR: tangd's way of serving, one process per connection
 * (inetd, socat, systemd Accept=yes). Requests are read from stdin, which
 * may be a socket or a pipe, and answered on stdout, kept alive and
 * pipelined until EOF; the answers are tetherd serve's (answer.c).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "server/answer.h"
#include "server/commands.h"
#include "server/keystore.h"
#include "server/privilege.h"
#include "server/request.h"
#include "server/route.h"

/* Silence from the peer this long ends the connection... */
#define STANDIN_IDLE_MS (10 * 1000)
/* ...and so does a request that takes this long to arrive in all. */
#define STANDIN_REQUEST_MS (30 * 1000)
/* Requests on one connection; a client makes a handful. */
#define STANDIN_REQUESTS_MAX 10000

/* The bytes read from stdin and not used yet. */
struct standin_input {
	char buf[REQUEST_HEADER_MAX + REQUEST_BODY_MAX];
	size_t len;
	bool eof;
};

static const char *
reason(unsigned status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	default: return "Internal Server Error";
	}
}

static int
send_answer(const struct answer *a, const struct route_match *m, bool close)
{
	char head[256];
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %u %s\r\n%s%s%s%s%s"
	             "Content-Length: %zu\r\n%s\r\n", a->status,
	             reason(a->status), a->type ? "Content-Type: " : "",
	             a->type ? a->type : "", a->type ? "\r\n" : "",
	             a->status == 405 ? "Allow: " : "",
	             a->status == 405 ? (m && m->route == ROUTE_REC ?
	                                 "POST\r\n" : "GET\r\n") : "",
	             a->body ? a->len : 0, close ? "Connection: close\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return -EOVERFLOW;
	n = write_fd(STDOUT_FILENO, head, (size_t)n);
	if (n == 0 && a->body && a->len > 0)
		n = write_fd(STDOUT_FILENO, a->body, a->len);
	return n;
}

/* Reads more of stdin, waiting at most until deadline. 0, or -ETIMEDOUT. */
static int
read_more(struct standin_input *in, unsigned long long deadline)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	unsigned long long now = now_usec();
	unsigned long long left = deadline > now ? (deadline - now) / 1000 : 0;
	ssize_t n;
	int r;

	if (in->len == sizeof(in->buf))
		return -ENOBUFS;
	r = poll(&pfd, 1, (int)(left < STANDIN_IDLE_MS ? left : STANDIN_IDLE_MS));
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (r == 0)
		return -ETIMEDOUT;
	n = read(STDIN_FILENO, in->buf + in->len, sizeof(in->buf) - in->len);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		in->eof = true;
	in->len += (size_t)n;
	return 0;
}

/*
 * Waits for one whole request (head and body) in in. Returns 1 with it,
 * 0 at EOF between requests, a status (>= 400) to refuse it with before
 * closing, or -errno.
 */
static int
next_request(struct standin_input *in, struct request_head *rq)
{
	unsigned long long deadline = now_usec() + STANDIN_REQUEST_MS * 1000ULL;
	int r;

	/* Ends by the deadline at the latest: read_more times out. */
	for (;;) {
		r = request_head_parse(in->buf, in->len, rq);
		if (r != 0)
			break;
		if (in->eof)
			return in->len == 0 ? 0 : 400;
		r = read_more(in, deadline);
		if (r == -ETIMEDOUT)
			return in->len == 0 ? 0 : 408;
		if (r < 0)
			return r;
	}
	if (r != 1)
		return r;
	while (in->len < rq->header_len + rq->body_len) {
		if (in->eof)
			return 400;
		r = read_more(in, deadline);
		if (r == -ETIMEDOUT)
			return 408;
		if (r < 0)
			return r;
	}
	return 1;
}

static void
consume(struct standin_input *in, size_t n)
{
	memmove(in->buf, in->buf + n, in->len - n);
	in->len -= n;
}

static void
log_request(const char *peer, const struct request_head *rq,
            unsigned status, unsigned long long start)
{
	unsigned long long us = now_usec() - start;
	char method[sizeof(rq->method) * 4], path[256];

	log_escape(method, sizeof(method), rq->method, strlen(rq->method));
	log_escape(path, sizeof(path), rq->target, strlen(rq->target));
	log_line("%s %s %s %u %llu.%03llums", peer, method, path, status,
	         us / 1000, us % 1000);
}

/* Answers one request, routed on its target as sent, query and %XX
   included, as tangd routes it. */
static int
serve_one(struct keystore *st, struct standin_input *in,
          const struct request_head *rq, const char *peer)
{
	unsigned long long start = now_usec();
	char rec[ECMR_REPLY_MAX];
	struct route_match m;
	struct keyset *ks;
	struct answer a;
	int r;

	route_match(rq->method, rq->target, &m);
	ks = keystore_get(st);
	if (ks)
		answer_request(ks, &m, in->buf + rq->header_len, rq->body_len,
		               false, rec, &a);
	else
		a = (struct answer){ .status = 500 };
	r = send_answer(&a, &m, !rq->keep_alive);
	explicit_bzero(rec, sizeof(rec));
	keyset_unref(ks);
	log_request(peer, rq, a.status, start);
	return r;
}

static void
peer_name(char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getpeername(STDIN_FILENO, (struct sockaddr *)&ss, &sl) < 0 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		snprintf(buf, len, "-");
	else
		sockaddr_format((struct sockaddr *)&ss, buf, len);
}

static void
serve_connection(struct keystore *st, struct standin_input *in)
{
	struct request_head rq;
	char peer[64];
	int r;

	peer_name(peer, sizeof(peer));
	for (unsigned n = 0; n < STANDIN_REQUESTS_MAX; n++) {
		r = next_request(in, &rq);
		if (r <= 0)
			return;
		if (r >= 400) {
			struct answer a = { .status = (unsigned)r };

			send_answer(&a, NULL, true);
			log_line("%s - - %d bad request; connection closed", peer,
			         r);
			return;
		}
		if (serve_one(st, in, &rq, peer) < 0 || !rq.keep_alive)
			return;
		consume(in, rq.header_len + rq.body_len);
	}
}

/* Root makes no key for another user: they would not be theirs. */
static unsigned
store_flags(const char *path, const struct stat *st)
{
	if (geteuid() == 0 && st->st_uid != 0) {
		log_warn("%s: owned by uid %u: as root, no key is created in it",
		         path, (unsigned)st->st_uid);
		return 0;
	}
	return KEYSTORE_CREATE;
}

int
cmd_standin(const char *path)
{
	struct standin_input *in;
	struct keystore st;
	struct stat sb;

	if (stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		log_err("%s: not a directory (usage: tetherd KEYSDIR, as "
		        "tangd)", path);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	in = calloc(1, sizeof(*in));
	if (!in)
		return 1;
	/* A directory that cannot give keys still gets answers: 500s. */
	keystore_open(&st, path, store_flags(path, &sb),
	              geteuid() == 0 ? KEYSET_TIGHTEN : 0);
	if (sandbox_enter() == 0)
		serve_connection(&st, in);
	keystore_close(&st);
	explicit_bzero(in, sizeof(*in));
	free(in);
	return 0;
}
