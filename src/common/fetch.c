/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "common/fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/libssl.h"
#include "common/mdns.h"
#include "common/tls.h"
#include "common/util.h"

#define REQUEST_HEAD_MAX (URL_PATH_MAX + URL_HOST_MAX + 512)

/* A connection to the server: a socket, and a TLS session on it for https. */
struct conn {
	int fd;
	SSL *ssl;
};

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

/* The calling thread's fetch_cancel_set list. */
static _Thread_local int cancel_fds[FETCH_CANCEL_MAX];
static _Thread_local size_t cancel_n;

int
fetch_cancel_set(const int *fds, size_t n)
{
	if (n > FETCH_CANCEL_MAX)
		return -E2BIG;
	memcpy(cancel_fds, fds, n * sizeof(*fds));
	cancel_n = n;
	return 0;
}

size_t
fetch_cancel_get(int fds[FETCH_CANCEL_MAX])
{
	memcpy(fds, cancel_fds, cancel_n * sizeof(*fds));
	return cancel_n;
}

/* pfd[0] watches fd for events, the rest the thread's cancel fds. */
static nfds_t
poll_set(struct pollfd pfd[1 + FETCH_CANCEL_MAX], int fd, short events)
{
	pfd[0] = (struct pollfd){ .fd = fd, .events = events };
	for (size_t i = 0; i < cancel_n; i++)
		pfd[1 + i] = (struct pollfd){ .fd = cancel_fds[i],
		                              .events = POLLIN };
	return 1 + cancel_n;
}

/* Whether a cancel fd fired, after a poll of a poll_set. */
static bool
any_cancel(const struct pollfd *pfd)
{
	for (size_t i = 0; i < cancel_n; i++)
		if (pfd[1 + i].revents)
			return true;
	return false;
}

bool
fetch_cancelled(void)
{
	struct pollfd pfd[1 + FETCH_CANCEL_MAX];
	nfds_t n = poll_set(pfd, -1, 0);

	return cancel_n > 0 && poll(pfd, n, 0) > 0 && any_cancel(pfd);
}

/*
 * Waits for events on fd until the deadline; -ETIMEDOUT past it,
 * -ECANCELED when one of the thread's cancel fds fires.
 */
static int
wait_fd(int fd, short events, unsigned long long deadline)
{
	struct pollfd pfd[1 + FETCH_CANCEL_MAX];
	nfds_t nfds = poll_set(pfd, fd, events);

	for (;;) {
		int ms = remaining_ms(deadline), n;

		if (ms == 0)
			return -ETIMEDOUT;
		n = poll(pfd, nfds, ms);
		if (n > 0)
			return any_cancel(pfd) ? -ECANCELED : 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int
connect_one(const struct sockaddr *sa, socklen_t salen,
            unsigned long long deadline)
{
	int one = 1, err = 0, fd, r;
	socklen_t elen = sizeof(err);

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	            IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	/* One write per request and reply: never wait on Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, sa, salen) < 0) {
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

/* Tries one address with the per-address limit; the socket or -errno. */
static int
connect_addr(const struct sockaddr *sa, socklen_t salen,
             const struct fetch_timeouts *t, unsigned long long deadline,
             struct fetch_result *res)
{
	unsigned long long each = now_usec() + t->connect_ms * 1000ULL;

	sockaddr_format(sa, res->addr, sizeof(res->addr));
	return connect_one(sa, salen, each < deadline ? each : deadline);
}

/*
 * A ".local" name by a one-shot mDNS query, waiting as long as one
 * connection may take: 0 with the addresses, the URL's port set; or
 * -EHOSTUNREACH with res->detail saying why.
 */
static int
resolve_mdns(const struct url *u, const struct fetch_timeouts *t,
             unsigned long long deadline, struct sockaddr_storage *out,
             size_t *n, struct fetch_result *res)
{
	unsigned left = (unsigned)remaining_ms(deadline);
	unsigned ms = left < t->connect_ms ? left : t->connect_ms;
	unsigned long port;
	int r;

	r = mdns_resolve(u->host, ms, out, MDNS_ADDRS_MAX, n);
	if (r == -EHOSTUNREACH)
		snprintf(res->detail, sizeof(res->detail), "no mDNS answer for "
		         "%s within %u ms", u->host, ms);
	else if (r == -ENETUNREACH)
		snprintf(res->detail, sizeof(res->detail), "no mDNS answer for "
		         "%s: no interface could send the query", u->host);
	else if (r < 0)
		snprintf(res->detail, sizeof(res->detail), "mDNS query for %s "
		         "failed: %s", u->host, strerror(-r));
	if (r < 0)
		return -EHOSTUNREACH;
	/* url_parse checked the port already. */
	if (parse_ulong(u->port, 1, 65535, &port) < 0)
		return -EINVAL;
	for (size_t i = 0; i < *n; i++) {
		if (out[i].ss_family == AF_INET)
			((struct sockaddr_in *)&out[i])->sin_port =
				htons((uint16_t)port);
		else
			((struct sockaddr_in6 *)&out[i])->sin6_port =
				htons((uint16_t)port);
	}
	return 0;
}

static int
connect_mdns(const struct sockaddr_storage *addrs, size_t n,
             const struct fetch_timeouts *t, unsigned long long deadline,
             struct fetch_result *res)
{
	int fd = -EHOSTUNREACH;

	res->stage = "connect";
	for (size_t i = 0; i < n; i++) {
		socklen_t len = addrs[i].ss_family == AF_INET
		                ? sizeof(struct sockaddr_in)
		                : sizeof(struct sockaddr_in6);

		fd = connect_addr((const struct sockaddr *)&addrs[i], len, t,
		                  deadline, res);
		if (fd >= 0 || remaining_ms(deadline) == 0)
			break;
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
	struct sockaddr_storage found[MDNS_ADDRS_MAX];
	struct addrinfo *list, *ai;
	int fd = -EHOSTUNREACH, g;
	size_t n;

	res->stage = "resolve";
	/* The initramfs has no mDNS in its resolver: ask the link first,
	   then the system resolver, which may know the name from
	   /etc/hosts or nss-mdns. */
	if (!u->ipv6 && mdns_is_local_name(u->host)) {
		if (resolve_mdns(u, t, deadline, found, &n, res) == 0)
			return connect_mdns(found, n, t, deadline, res);
		if (remaining_ms(deadline) == 0)
			return -EHOSTUNREACH;
	}
	g = getaddrinfo(u->host, u->port, &hints, &list);
	if (g != 0) {
		/* After why mDNS found nothing, for a .local name. */
		size_t used = strlen(res->detail);

		snprintf(res->detail + used, sizeof(res->detail) - used, "%s%s",
		         used ? "; system resolver: " : "",
		         g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
		return -EHOSTUNREACH;
	}
	res->detail[0] = '\0';
	res->stage = "connect";
	for (ai = list; ai; ai = ai->ai_next) {
		fd = connect_addr(ai->ai_addr, ai->ai_addrlen, t, deadline, res);
		if (fd >= 0 || remaining_ms(deadline) == 0)
			break;
	}
	freeaddrinfo(list);
	return fd;
}

/*
 * What to wait for after a TLS call returned r (<= 0): 0 with *events set
 * to poll on, or a negative errno for a failure.
 */
static int
tls_wait_for(SSL *ssl, int r, short *events)
{
	switch (libssl.SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*events = POLLIN;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		*events = POLLOUT;
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		return -ECONNRESET;
	case SSL_ERROR_SYSCALL:
		return errno ? -errno : -ECONNRESET;
	default:
		return -EPROTO;
	}
}

/* Sends or receives some bytes; the count, or a negative errno. */
static ssize_t
conn_io(struct conn *c, bool sending, void *buf, size_t len,
        unsigned long long deadline)
{
	for (;;) {
		short events = sending ? POLLOUT : POLLIN;
		ssize_t n;
		int r;

		if (c->ssl) {
			size_t done = 0;

			r = sending ? libssl.SSL_write_ex(c->ssl, buf, len, &done)
			            : libssl.SSL_read_ex(c->ssl, buf, len, &done);
			if (r == 1)
				return (ssize_t)done;
			/* A peer that closes without close_notify ends the
			   reply too: the HTTP parser judges completeness. */
			if (!sending && libssl.SSL_get_error(c->ssl, r) ==
			    SSL_ERROR_ZERO_RETURN)
				return 0;
			r = tls_wait_for(c->ssl, r, &events);
			ERR_clear_error();
			if (r < 0)
				return !sending && r == -ECONNRESET ? 0 : r;
		} else {
			n = sending ? send(c->fd, buf, len, MSG_NOSIGNAL)
			            : recv(c->fd, buf, len, 0);
			if (n >= 0)
				return n;
			if (errno != EAGAIN && errno != EINTR)
				return -errno;
		}
		r = wait_fd(c->fd, events, deadline);
		if (r < 0)
			return r;
	}
}

static int
send_all(struct conn *c, const char *p, size_t len,
         unsigned long long deadline)
{
	while (len > 0) {
		ssize_t n = conn_io(c, true, (void *)p, len, deadline);

		if (n < 0)
			return (int)n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The TLS handshake and the trust check, both within the deadline. */
static int
tls_start(struct conn *c, const struct url *u, unsigned long long deadline,
          struct fetch_result *res)
{
	int r;

	res->stage = "tls";
	c->ssl = tls_client_new(u, c->fd, res->detail, sizeof(res->detail));
	if (!c->ssl)
		return -EPROTO;
	for (;;) {
		short events;

		r = libssl.SSL_connect(c->ssl);
		if (r == 1)
			break;
		if (libssl.SSL_get_verify_result(c->ssl) != X509_V_OK) {
			snprintf(res->detail, sizeof(res->detail),
			         "certificate not trusted: %s",
			         X509_verify_cert_error_string(
			                 libssl.SSL_get_verify_result(c->ssl)));
			ERR_clear_error();
			return -EKEYREJECTED;
		}
		r = tls_wait_for(c->ssl, r, &events);
		if (r < 0) {
			unsigned long e = ERR_get_error();

			snprintf(res->detail, sizeof(res->detail), "handshake "
			         "failed%s%s", e ? ": " : "",
			         e ? ERR_reason_error_string(e) : "");
			ERR_clear_error();
			return -EPROTO;
		}
		r = wait_fd(c->fd, events, deadline);
		if (r < 0)
			return r;
	}
	return tls_client_check(c->ssl, u, res->detail, sizeof(res->detail));
}

/* The Authorization header line for the URL's credentials, or "". */
static int
basic_auth(const struct url *u, char *out, size_t len)
{
	char pair[sizeof(u->user) + sizeof(u->pass)];
	int n;

	out[0] = '\0';
	if (!u->user[0])
		return 0;
	n = snprintf(pair, sizeof(pair), "%s:%s", u->user, u->pass);
	if (n < 0 || (size_t)n >= sizeof(pair) ||
	    ((size_t)n + 2) / 3 * 4 + 25 >= len)
		return -ENAMETOOLONG;
	memcpy(out, "Authorization: Basic ", 21);
	n = EVP_EncodeBlock((unsigned char *)out + 21, (unsigned char *)pair,
	                    n);
	memcpy(out + 21 + n, "\r\n", 3);
	explicit_bzero(pair, sizeof(pair));
	return 0;
}

static int
send_request(struct conn *c, const struct url *u, const char *method,
             const char *suffix, const char *ctype, const void *body,
             size_t len, unsigned long long deadline)
{
	char target[URL_PATH_MAX + 128], head[REQUEST_HEAD_MAX], auth[320];
	char *msg;
	int n, r;

	r = url_target(u, suffix, target, sizeof(target));
	if (r < 0)
		return r;
	r = basic_auth(u, auth, sizeof(auth));
	if (r < 0)
		return r;
	n = snprintf(head, sizeof(head),
	             "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\n%s"
	             "Accept: application/json\r\nConnection: close\r\n"
	             "%s%s%sContent-Length: %zu\r\n\r\n",
	             method, target, u->ipv6 ? "[" : "", u->host,
	             u->ipv6 ? "]" : "", u->port, auth,
	             ctype ? "Content-Type: " : "", ctype ? ctype : "",
	             ctype ? "\r\n" : "", len);
	explicit_bzero(auth, sizeof(auth));
	if (n < 0 || (size_t)n >= sizeof(head))
		return -ENAMETOOLONG;
	/* Head and body in one send: one segment for small requests. */
	msg = malloc((size_t)n + len);
	if (!msg)
		return -ENOMEM;
	memcpy(msg, head, (size_t)n);
	if (len)
		memcpy(msg + n, body, len);
	r = send_all(c, msg, (size_t)n + len, deadline);
	free_secret(msg, (size_t)n + len);	/* it may hold credentials */
	return r;
}

static int
receive_response(struct conn *c, unsigned long long deadline,
                 struct fetch_result *res)
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
		n = conn_io(c, false, buf + len, cap - len, deadline);
		if (n < 0) {
			free(buf);
			return (int)n;
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
	struct conn c = { .fd = -1, .ssl = NULL };
	int r;

	memset(res, 0, sizeof(*res));
	snprintf(res->addr, sizeof(res->addr), "-");
	res->stage = "connect";
	/* Name resolution cannot be interrupted: do not start it in vain. */
	if (fetch_cancelled())
		return -ECANCELED;
	c.fd = connect_any(u, t, deadline, res);
	if (c.fd < 0)
		return c.fd;
	r = u->tls ? tls_start(&c, u, deadline, res) : 0;
	if (r == 0) {
		res->stage = "send";
		r = send_request(&c, u, method, suffix, content_type, body, len,
		                 deadline);
	}
	if (r == 0) {
		res->stage = "receive";
		r = receive_response(&c, deadline, res);
	}
	tls_client_free(c.ssl);
	close(c.fd);
	return r;
}

void
fetch_done(struct fetch_result *res)
{
	free(res->buffer);
	res->buffer = NULL;
}
