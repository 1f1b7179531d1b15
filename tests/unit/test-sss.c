/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * sss recovery stops at its threshold and leaves nothing running: a share
 * still at work when the caller returns was found crashing `tether
 * decrypt` at exit (and the token plugin, unloaded under it). Server B
 * answers only once share A, whose server never answers, has connected,
 * so that A is certainly under way when B's share completes the
 * threshold; by the time pin_decrypt returns, A must have hung up.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/pin.h"
#include "common/util.h"
#include "server/answer.h"
#include "server/keyset.h"
#include "server/request.h"
#include "server/route.h"

/* Every wait here is bounded, so a broken build fails instead of hanging. */
#define WAIT_MS (60 * 1000)

struct server_b {
	int listener;		/* answers Tang requests from ks */
	int silent;		/* server A's listener: never answers */
	struct keyset *ks;
};

/* A loopback listener on a port the kernel picks; its port in *port. */
static int
listen_loopback(unsigned *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Reads one request on fd and answers it as tetherd would. */
static void
answer_one(int fd, struct keyset *ks)
{
	char buf[8192], rec[ECMR_REPLY_MAX], head[256];
	struct request_head rq;
	struct route_match m;
	struct answer a;
	size_t len = 0;
	int r = 0;

	while (len < sizeof(buf)) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);

		if (n <= 0)
			return;
		len += (size_t)n;
		r = request_head_parse(buf, len, &rq);
		if (r != 0 && (r != 1 || len >= rq.header_len + rq.body_len))
			break;
	}
	if (r != 1)
		return;
	route_match(rq.method, rq.target, &m);
	answer_request(ks, &m, buf + rq.header_len, rq.body_len, false, rec, &a);
	snprintf(head, sizeof(head), "HTTP/1.1 %u X\r\nContent-Type: %s\r\n"
	         "Content-Length: %zu\r\nConnection: close\r\n\r\n", a.status,
	         a.type ? a.type : "text/plain", a.len);
	if (send(fd, head, strlen(head), MSG_NOSIGNAL) < 0 ||
	    (a.len && send(fd, a.body, a.len, MSG_NOSIGNAL) < 0))
		return;
}

static void *
serve_b(void *arg)
{
	struct server_b *b = arg;
	struct pollfd silent = { .fd = b->silent, .events = POLLIN };
	struct pollfd l = { .fd = b->listener, .events = POLLIN };
	int fd;

	if (poll(&l, 1, WAIT_MS) != 1)
		return NULL;
	fd = accept(b->listener, NULL, NULL);
	if (fd < 0)
		return NULL;
	/* Share A has connected to the silent server: now answer. */
	(void)poll(&silent, 1, WAIT_MS);
	answer_one(fd, b->ks);
	close(fd);
	return NULL;
}

/* Whether the peer of fd has closed, once what it sent is read. */
static bool
hung_up(int fd)
{
	char buf[4096];

	for (size_t i = 0; i < 64; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0)
			return true;
		if (n < 0)
			return false;
	}
	return false;
}

static void
test_threshold_leaves_nothing_running(void **state)
{
	const char *root = getenv("TETHER_SOURCE_ROOT");
	char dir[4096], url_a[64], url_b[64], *jwe = NULL;
	struct server_b b = { 0 };
	unsigned port_a, port_b;
	json_t *adv, *cfg;
	pthread_t thread;
	uint8_t *pt = NULL;
	size_t len = 0;
	int dirfd, a;

	(void)state;
	assert_non_null(root);
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/keys", root);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dirfd >= 0);
	assert_int_equal(keyset_load(dirfd, KEYSET_QUIET, &b.ks), 0);
	close(dirfd);
	adv = json_loadb(b.ks->adv, b.ks->adv_len, 0, NULL);
	assert_non_null(adv);

	b.silent = listen_loopback(&port_a);
	b.listener = listen_loopback(&port_b);
	assert_true(b.silent >= 0 && b.listener >= 0);
	snprintf(url_a, sizeof(url_a), "http://127.0.0.1:%u", port_a);
	snprintf(url_b, sizeof(url_b), "http://127.0.0.1:%u", port_b);
	cfg = json_pack("{s:i,s:{s:[{s:s,s:O},{s:s,s:O}]}}", "t", 1, "pins",
	                "tang", "url", url_a, "adv", adv, "url", url_b, "adv",
	                adv);
	assert_non_null(cfg);
	assert_int_equal(pin_encrypt("sss", cfg, false,
	                             (const uint8_t *)"secret", 6, &jwe), 0);

	/* Long enough that only cancellation ends share A in time. */
	setenv("TETHER_TIMEOUT", "600", 1);
	assert_int_equal(pthread_create(&thread, NULL, serve_b, &b), 0);
	assert_int_equal(pin_decrypt(jwe, strlen(jwe), &pt, &len), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(pt, "secret", 6);
	pthread_join(thread, NULL);

	a = accept(b.silent, NULL, NULL);
	assert_true(a >= 0);
	assert_true(hung_up(a));

	close(a);
	close(b.silent);
	close(b.listener);
	free_secret(pt, len);
	free(jwe);
	json_decref(cfg);
	json_decref(adv);
	keyset_unref(b.ks);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threshold_leaves_nothing_running),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
