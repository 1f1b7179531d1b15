/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A boot storm: CLIENTS machines, each from its own loopback address,
 * fetch a Tang server's /adv and recover a key at the same moment, as a
 * fleet does when power returns. Every client opens a connection for
 * GET /adv and another for POST /rec/KID, as clevis's curl and tether do,
 * all driven by one epoll loop. The clients' own point multiplications
 * are done before the clock starts (a real fleet has a CPU per machine);
 * after it stops, every reply is unblinded and must give the binding's
 * secret, so a wrong answer counts as an error.
 *
 * Prints one line of key=value figures; see bench/storm.sh.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jose/b64.h>

#include "client/adv.h"
#include "client/request.h"
#include "common/ecmr.h"
#include "common/jwk.h"
#include "common/util.h"

#define CLIENTS_MAX 20000
#define RESPONSE_MAX (64 * 1024)
#define REQUEST_MAX 1024

enum outcome {
	PENDING,
	DONE,
	E_CONNECT,   /* refused, reset or unreachable while connecting */
	E_IO,        /* reset or closed before a whole response */
	E_STATUS,    /* a status other than 200 */
	E_TIMEOUT,   /* no whole response when the storm's time ran out */
	E_WRONG,     /* a 200 whose point does not recover the secret */
	OUTCOMES,
};

static const char *const outcome_names[OUTCOMES] = {
	[PENDING] = "pending", [DONE] = "ok", [E_CONNECT] = "connect",
	[E_IO] = "io", [E_STATUS] = "status", [E_TIMEOUT] = "timeout",
	[E_WRONG] = "wrong",
};

struct client {
	int fd;
	int phase;                /* 0: GET /adv, 1: POST /rec, 2: finished */
	enum outcome outcome;
	struct sockaddr_in src;
	char request[2][REQUEST_MAX];
	size_t request_len[2], sent;
	char *response;
	size_t got;
	unsigned long long start, end;
	struct ecmr_blinding *blinding;
};

static struct sockaddr_in server;
static int epfd;

static int
fail(struct client *c, enum outcome o)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	c->outcome = o;
	c->phase = 2;
	c->end = now_usec();
	return -1;
}

static int
start_phase(struct client *c)
{
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.ptr = c };
	int one = 1;

	c->sent = 0;
	c->got = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return fail(c, E_CONNECT);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(c->fd, (struct sockaddr *)&c->src, sizeof(c->src)) < 0 ||
	    (connect(c->fd, (struct sockaddr *)&server, sizeof(server)) < 0 &&
	     errno != EINPROGRESS) ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		return fail(c, E_CONNECT);
	return 0;
}

/*
 * The length of a whole response in c->response, 0 while incomplete:
 * headers and a Content-Length body, or everything up to the server's
 * close when it gives no length (eof).
 */
static size_t
response_length(const struct client *c, bool eof)
{
	const char *end = memmem(c->response, c->got, "\r\n\r\n", 4), *p;
	size_t head;

	if (!end)
		return 0;
	head = (size_t)(end - c->response) + 4;
	for (p = c->response; p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
		p += *p == '\n';
		if (strncasecmp(p, "Content-Length:", 15) == 0) {
			size_t n = strtoul(p + 15, NULL, 10);

			return c->got >= head + n ? head + n : 0;
		}
	}
	return eof ? c->got : 0;
}

/* A whole response came: the next phase, or the end. */
static void
finish_phase(struct client *c, size_t len)
{
	close(c->fd);
	c->fd = -1;
	if (len < 12 || strncmp(c->response, "HTTP/1.1 200", 12) != 0) {
		fail(c, E_STATUS);
		return;
	}
	if (c->phase == 0) {
		c->phase = 1;
		start_phase(c);
		return;
	}
	c->got = len;
	c->phase = 2;
	c->end = now_usec();
}

static void
on_event(struct client *c, uint32_t events)
{
	int err = 0;
	socklen_t elen = sizeof(err);
	ssize_t n;
	size_t len;

	if (c->sent < c->request_len[c->phase]) {
		if ((events & (EPOLLERR | EPOLLHUP)) &&
		    (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err)) {
			fail(c, E_CONNECT);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		n = send(c->fd, c->request[c->phase] + c->sent,
		         c->request_len[c->phase] - c->sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN)
				fail(c, c->sent ? E_IO : E_CONNECT);
			return;
		}
		c->sent += (size_t)n;
		if (c->sent == c->request_len[c->phase]) {
			struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

			epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
		}
		return;
	}
	for (;;) {
		if (c->got == RESPONSE_MAX) {
			fail(c, E_IO);
			return;
		}
		n = recv(c->fd, c->response + c->got, RESPONSE_MAX - c->got, 0);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			fail(c, E_IO);
			return;
		}
		c->got += (size_t)n;
		len = response_length(c, n == 0);
		if (len) {
			finish_phase(c, len);
			return;
		}
		if (n == 0) {
			fail(c, E_IO);
			return;
		}
	}
}

/* The body of a finished /rec response, unblinded, must give x. */
static enum outcome
check_recovery(const struct client *c, const char *x)
{
	const char *body = memmem(c->response, c->got, "\r\n\r\n", 4);
	json_t *reply, *key = NULL;
	enum outcome o = E_WRONG;

	if (!body)
		return E_WRONG;
	body += 4;
	reply = json_loadb(body, c->got - (size_t)(body - c->response), 0, NULL);
	if (reply && ecmr_unblind(c->blinding, reply, &key) == 0 &&
	    strcmp(json_string_value(json_object_get(key, "x")), x) == 0)
		o = DONE;
	jwk_free_wiped(key);
	json_decref(reply);
	return o;
}

static int
compare_ull(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a;
	unsigned long long y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

/* The server's exchange key and its kid, from its verified /adv. */
static int
server_key(const char *url, json_t **srv, char kid[JWK_THP_MAX + 1])
{
	json_t *jws = NULL, *jwks = NULL;
	struct url u;
	int r;

	if (server_url("storm", url, &u) < 0 || adv_fetch(&u, NULL, &jws, &jwks) < 0)
		return -1;
	*srv = json_deep_copy(adv_exchange_key(jwks));
	r = *srv ? jwk_thumbprint(*srv, JWK_THP_S256, kid) : -1;
	json_decref(jws);
	json_decref(jwks);
	return r;
}

/* Client i's request texts and its own source address, 127.x.y.z. */
static int
client_prepare(struct client *c, unsigned i, const char *host, const char *kid,
               const json_t *epk, const json_t *srv)
{
	json_t *xfr = NULL;
	char *body;
	int n;

	c->fd = -1;
	c->src.sin_family = AF_INET;
	c->src.sin_addr.s_addr = htonl(0x7f000000u | ((i / 250 + 1) << 16) |
	                               ((i % 250 + 1) << 8) | 1u);
	c->response = malloc(RESPONSE_MAX);
	if (!c->response || ecmr_blind(epk, srv, &c->blinding, &xfr) < 0)
		return -1;
	body = json_dumps(xfr, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(xfr);
	if (!body)
		return -1;
	n = snprintf(c->request[0], REQUEST_MAX,
	             "GET /adv HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
	             host);
	c->request_len[0] = (size_t)n;
	n = snprintf(c->request[1], REQUEST_MAX,
	             "POST /rec/%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
	             "Content-Type: application/jwk+json\r\nContent-Length: %zu\r\n"
	             "\r\n%s", kid, host, strlen(body), body);
	free(body);
	if (n <= 0 || n >= REQUEST_MAX)
		return -1;
	c->request_len[1] = (size_t)n;
	return 0;
}

static void
raise_fd_limit(unsigned clients)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < clients + 64u) {
		rl.rlim_cur = rl.rlim_max < clients + 64u ? rl.rlim_max : clients + 64u;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	unsigned long port, clients, seconds;
	unsigned long long start, deadline, last = 0, *lat;
	unsigned count[OUTCOMES] = { 0 }, ok = 0;
	char url[64], host[32], kid[JWK_THP_MAX + 1], x[2 * ECMR_SECRET_MAX];
	uint8_t z[ECMR_SECRET_MAX];
	json_t *srv = NULL, *epk = NULL;
	struct epoll_event events[256];
	struct client *c;
	size_t zlen = 0, xlen;
	unsigned left;

	if (argc != 4 || parse_ulong(argv[1], 1, 65535, &port) < 0 ||
	    parse_ulong(argv[2], 1, CLIENTS_MAX, &clients) < 0 ||
	    parse_ulong(argv[3], 1, 3600, &seconds) < 0) {
		fprintf(stderr, "usage: storm PORT CLIENTS SECONDS\n"
		        "  a Tang server on 127.0.0.1:PORT; CLIENTS at once; "
		        "stop after SECONDS\n");
		return 2;
	}
	raise_fd_limit((unsigned)clients);
	snprintf(host, sizeof(host), "127.0.0.1:%lu", port);
	snprintf(url, sizeof(url), "http://%s", host);
	server.sin_family = AF_INET;
	server.sin_port = htons((uint16_t)port);
	server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	/* The binding every client recovers: C = cG, secret x(cS). */
	if (server_key(url, &srv, kid) < 0 || ecmr_agree(srv, &epk, z, &zlen) < 0) {
		fprintf(stderr, "storm: no exchange key from %s\n", url);
		return 1;
	}
	xlen = jose_b64_enc_buf(z, zlen, x, sizeof(x) - 1);
	if (xlen == SIZE_MAX)
		return 1;
	x[xlen] = '\0';
	c = calloc(clients, sizeof(*c));
	lat = calloc(clients, sizeof(*lat));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!c || !lat || epfd < 0)
		return 1;
	for (unsigned i = 0; i < clients; i++)
		if (client_prepare(&c[i], i, host, kid, epk, srv) < 0) {
			fprintf(stderr, "storm: cannot prepare client %u\n", i);
			return 1;
		}

	start = now_usec();
	deadline = start + seconds * 1000000ull;
	for (unsigned i = 0; i < clients; i++) {
		c[i].start = start;
		start_phase(&c[i]);
	}
	for (left = (unsigned)clients; left > 0 && now_usec() < deadline;) {
		int n = epoll_wait(epfd, events, 256, 100);

		for (int k = 0; k < n; k++) {
			struct client *cl = events[k].data.ptr;

			on_event(cl, events[k].events);
			if (cl->phase == 2)
				left--;
		}
		/* A failed reconnect finishes a client outside any event. */
		if (n <= 0) {
			left = 0;
			for (unsigned i = 0; i < clients; i++)
				left += c[i].phase != 2;
		}
	}
	for (unsigned i = 0; i < clients; i++) {
		if (c[i].phase != 2)
			fail(&c[i], E_TIMEOUT);
		else if (c[i].outcome == PENDING)
			c[i].outcome = check_recovery(&c[i], x);
		count[c[i].outcome]++;
		if (c[i].outcome == DONE) {
			lat[ok++] = c[i].end - c[i].start;
			if (c[i].end > last)
				last = c[i].end;
		}
	}
	qsort(lat, ok, sizeof(*lat), compare_ull);
	printf("clients=%lu ok=%u errors=%lu", clients, ok, clients - ok);
	for (int o = E_CONNECT; o < OUTCOMES; o++)
		printf(" %s=%u", outcome_names[o], count[o]);
	if (ok)
		printf(" p50_ms=%.1f p99_ms=%.1f max_ms=%.1f total_ms=%.1f\n",
		       lat[(ok - 1) / 2] / 1000.0, lat[(ok * 99 + 99) / 100 - 1] / 1000.0,
		       lat[ok - 1] / 1000.0, (last - start) / 1000.0);
	else
		printf(" p50_ms=- p99_ms=- max_ms=- total_ms=-\n");
	for (unsigned i = 0; i < clients; i++) {
		ecmr_blinding_free(c[i].blinding);
		free(c[i].response);
	}
	explicit_bzero(z, sizeof(z));
	free(lat);
	free(c);
	json_decref(epk);
	json_decref(srv);
	close(epfd);
	return 0;
}
