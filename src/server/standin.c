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
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "server/answer.h"
#include "server/commands.h"
#include "server/http.h"
#include "server/keystore.h"
#include "server/privilege.h"
#include "server/route.h"

/* The request line and headers together, as tangd's request buffer. */
#define STANDIN_HEADER_MAX 4096
/* A body, as tetherd serve takes. */
#define STANDIN_BODY_MAX HTTP_BODY_MAX
/* Silence from the peer this long ends the connection... */
#define STANDIN_IDLE_MS (10 * 1000)
/* ...and so does a request that takes this long to arrive in all. */
#define STANDIN_REQUEST_MS (30 * 1000)
/* Requests on one connection; a client makes a handful. */
#define STANDIN_REQUESTS_MAX 10000

struct standin_request {
	char method[16];
	char target[STANDIN_HEADER_MAX];
	size_t header_len;		/* up to and with the empty line */
	size_t body_len;		/* Content-Length */
	bool keep_alive;
};

/* The bytes read from stdin and not used yet. */
struct standin_input {
	char buf[STANDIN_HEADER_MAX + STANDIN_BODY_MAX];
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

static const char *
find_end_of_header(const char *buf, size_t len)
{
	for (size_t i = 0; i + 3 < len; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
			return buf + i + 4;
	return NULL;
}

static bool
is_token_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
}

/* "METHOD SP TARGET SP HTTP/1.x": 0, or the status that refuses it. */
static unsigned
parse_request_line(const char *line, size_t len, struct standin_request *rq,
                   bool *http10)
{
	const char *sp1 = memchr(line, ' ', len), *sp2;
	size_t mlen, tlen;

	if (!sp1)
		return 400;
	mlen = (size_t)(sp1 - line);
	sp2 = memchr(sp1 + 1, ' ', len - mlen - 1);
	if (!sp2 || mlen == 0 || mlen >= sizeof(rq->method))
		return mlen >= sizeof(rq->method) ? 501 : 400;
	for (size_t i = 0; i < mlen; i++)
		if (!is_token_char(line[i]))
			return 400;
	tlen = (size_t)(sp2 - sp1 - 1);
	if (tlen == 0 || tlen >= sizeof(rq->target))
		return 400;
	for (size_t i = 0; i < tlen; i++)
		if ((unsigned char)sp1[1 + i] <= 0x20 || sp1[1 + i] == 0x7f)
			return 400;
	if (len - (size_t)(sp2 + 1 - line) != 8 ||
	    (memcmp(sp2 + 1, "HTTP/1.1", 8) != 0 &&
	     memcmp(sp2 + 1, "HTTP/1.0", 8) != 0))
		return 400;
	*http10 = sp2[8] == '0';
	memcpy(rq->method, line, mlen);
	rq->method[mlen] = '\0';
	memcpy(rq->target, sp1 + 1, tlen);
	rq->target[tlen] = '\0';
	return 0;
}

static bool
value_has_token(const char *v, size_t len, const char *token)
{
	size_t n = strlen(token);

	for (size_t i = 0; i + n <= len; i++)
		if (strncasecmp(v + i, token, n) == 0 &&
		    (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ') &&
		    (i + n == len || v[i + n] == ',' || v[i + n] == ' '))
			return true;
	return false;
}

/* One "Name: value" line: 0, or the status that refuses the request. */
static unsigned
parse_header(const char *line, size_t len, struct standin_request *rq,
             bool *have_length, bool http10)
{
	const char *colon = memchr(line, ':', len), *v;
	size_t nlen, vlen;
	unsigned long cl;
	char num[16];

	if (!colon || colon == line)
		return 400;
	nlen = (size_t)(colon - line);
	for (size_t i = 0; i < nlen; i++)
		if (!is_token_char(line[i]))
			return 400;	/* also a folded line */
	v = colon + 1;
	vlen = len - nlen - 1;
	while (vlen > 0 && (*v == ' ' || *v == '\t'))
		v++, vlen--;
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (nlen == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0)
		return 501;	/* no transfer-coding is read, chunked neither */
	if (nlen == 10 && strncasecmp(line, "Connection", 10) == 0) {
		if (value_has_token(v, vlen, "close"))
			rq->keep_alive = false;
		else if (http10 && value_has_token(v, vlen, "keep-alive"))
			rq->keep_alive = true;
		return 0;
	}
	if (nlen != 14 || strncasecmp(line, "Content-Length", 14) != 0)
		return 0;
	if (vlen == 0 || vlen >= sizeof(num))
		return vlen == 0 ? 400 : 413;
	memcpy(num, v, vlen);
	num[vlen] = '\0';
	for (size_t i = 0; i < vlen; i++)
		if (num[i] < '0' || num[i] > '9')
			return 400;
	if (parse_ulong(num, 0, STANDIN_BODY_MAX, &cl) < 0)
		return 413;
	if (*have_length && cl != rq->body_len)
		return 400;
	*have_length = true;
	rq->body_len = cl;
	return 0;
}

/* The length of the line at p (to its CRLF) within left bytes, or -1. */
static ssize_t
line_length(const char *p, size_t left)
{
	for (size_t i = 0; i + 1 < left; i++)
		if (p[i] == '\r' && p[i + 1] == '\n')
			return (ssize_t)i;
	return -1;
}

/* The request line and headers of the complete header block buf (len
   bytes, ending with the empty line). */
static unsigned
parse_head(const char *buf, size_t len, struct standin_request *rq)
{
	bool http10 = false, have_length = false;
	size_t off = 0, body = len - 2;	/* where the empty line starts */
	unsigned status;
	ssize_t n;

	memset(rq, 0, sizeof(*rq));
	rq->header_len = len;
	n = line_length(buf, len);
	if (n < 0)
		return 400;
	status = parse_request_line(buf, (size_t)n, rq, &http10);
	if (status)
		return status;
	rq->keep_alive = !http10;
	for (off = (size_t)n + 2; off < body; off += (size_t)n + 2) {
		n = line_length(buf + off, len - off);
		if (n < 0)
			return 400;
		status = parse_header(buf + off, (size_t)n, rq, &have_length,
		                      http10);
		if (status)
			return status;
	}
	return 0;
}

/*
 * Waits for one whole request (head and body) in in. Returns 1 with it,
 * 0 at EOF between requests, a status (>= 400) to refuse it with before
 * closing, or -errno.
 */
static int
next_request(struct standin_input *in, struct standin_request *rq)
{
	unsigned long long deadline = now_usec() + STANDIN_REQUEST_MS * 1000ULL;
	const char *end;
	unsigned status;
	int r;

	for (;;) {
		end = find_end_of_header(in->buf, in->len < STANDIN_HEADER_MAX ?
		                         in->len : STANDIN_HEADER_MAX);
		if (end)
			break;
		if (in->len >= STANDIN_HEADER_MAX)
			return 431;
		if (in->eof)
			return in->len == 0 ? 0 : 400;
		r = read_more(in, deadline);
		if (r == -ETIMEDOUT)
			return in->len == 0 ? 0 : 408;
		if (r < 0)
			return r;
	}
	status = parse_head(in->buf, (size_t)(end - in->buf), rq);
	if (status)
		return (int)status;
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
log_request(const char *peer, const struct standin_request *rq,
            unsigned status, unsigned long long start)
{
	unsigned long long us = now_usec() - start;
	char method[sizeof(rq->method) * 4], path[256];

	log_escape(method, sizeof(method), rq->method, strlen(rq->method));
	log_escape(path, sizeof(path), rq->target, strlen(rq->target));
	log_line("%s %s %s %u %llu.%03llums", peer, method, path, status,
	         us / 1000, us % 1000);
}

/* Answers one request; the query string is not part of the route. */
static int
serve_one(struct keystore *st, struct standin_input *in,
          const struct standin_request *rq, const char *peer)
{
	unsigned long long start = now_usec();
	char path[sizeof(rq->target)], rec[ECMR_REPLY_MAX];
	struct route_match m;
	struct keyset *ks;
	struct answer a;
	int r;

	snprintf(path, sizeof(path), "%s", rq->target);
	path[strcspn(path, "?#")] = '\0';
	route_match(rq->method, path, &m);
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
	struct standin_request rq;
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
		log_msg("%s: owned by uid %u: as root, no key is created in it",
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
		log_msg("%s: not a directory (usage: tetherd KEYSDIR, as "
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
