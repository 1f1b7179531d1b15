/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "test-addr.h"

#include "common/util.h"
#include "server/conntrack.h"

#define SECOND 1000000ULL

/* One tracked connection: the server's end and the client's. */
struct pair {
	int server, client;
	conntrack_id id;
};

static struct conntrack *
tracker(unsigned connections, unsigned per_address, unsigned capacity)
{
	struct conntrack_limits lim = {
		.connections = connections,
		.per_address = per_address,
		.request_timeout = 5,
		.capacity = capacity,
	};
	struct conntrack *t = NULL;

	assert_int_equal(conntrack_new(&lim, &t), 0);
	return t;
}

static struct pair
open_from(struct conntrack *t, const char *from)
{
	struct sockaddr_storage ss = addr(from);
	struct pair p;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	p.server = sv[0];
	p.client = sv[1];
	p.id = conntrack_open(t, p.server, (struct sockaddr *)&ss);
	return p;
}

/* Whether the server hung up on the client, waiting at most 5 s for it. */
static bool
hung_up(const struct pair *p)
{
	struct pollfd pfd = { .fd = p->client, .events = POLLIN };
	char c;

	if (poll(&pfd, 1, 5000) != 1)
		return false;
	return recv(p->client, &c, 1, MSG_DONTWAIT) == 0;
}

/* Whether the connection is still open now. */
static bool
open_now(const struct pair *p)
{
	char c;

	return recv(p->client, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

/* Closes both ends; returns why the tracker shut the connection down. */
static enum conntrack_end
close_pair(struct conntrack *t, struct pair *p)
{
	enum conntrack_end end = conntrack_close(t, p->id);

	close(p->server);
	close(p->client);
	return end;
}

/* An address at its cap makes room by closing its own oldest waiter. */
static void
test_per_address_evicts_oldest_of_that_address(void **state)
{
	struct conntrack *t = tracker(100, 2, 200);
	struct pair a = open_from(t, "10.0.0.1");
	struct pair other = open_from(t, "10.0.0.2");
	struct pair b = open_from(t, "10.0.0.1");
	struct pair c;

	(void)state;
	assert_true(open_now(&a) && open_now(&b) && open_now(&other));
	c = open_from(t, "10.0.0.1");
	assert_true(hung_up(&a));
	assert_true(open_now(&b));
	assert_true(open_now(&c));
	assert_true(open_now(&other));
	assert_int_equal(conntrack_count(t), 3);
	assert_int_equal(close_pair(t, &a), CONNTRACK_END_MADE_ROOM);
	assert_int_equal(close_pair(t, &b), CONNTRACK_END_NONE);
	close_pair(t, &c);
	close_pair(t, &other);
	assert_int_equal(conntrack_count(t), 0);
	conntrack_free(t);
}

/* IPv6 is capped by /64; an IPv4-mapped address counts as IPv4. */
static void
test_ipv6_capped_per_64(void **state)
{
	struct conntrack *t = tracker(100, 1, 200);
	struct pair a = open_from(t, "2001:db8::1");
	struct pair b = open_from(t, "2001:db8::ffff:2");
	struct pair c = open_from(t, "2001:db8:0:1::1");
	struct pair v4 = open_from(t, "192.0.2.1");
	struct pair mapped;

	(void)state;
	assert_true(hung_up(&a));
	assert_true(open_now(&b));
	assert_true(open_now(&c));
	mapped = open_from(t, "::ffff:192.0.2.1");
	assert_true(hung_up(&v4));
	assert_true(open_now(&mapped));
	assert_int_equal(conntrack_count(t), 3);
	close_pair(t, &a);
	close_pair(t, &b);
	close_pair(t, &c);
	close_pair(t, &v4);
	close_pair(t, &mapped);
	conntrack_free(t);
}

/* At the listener's cap the longest waiting goes, never one being
   answered; with only those, the newcomer goes. */
static void
test_listener_cap_spares_answered(void **state)
{
	struct conntrack *t = tracker(2, 0, 10);
	struct pair a = open_from(t, "10.0.0.1");
	struct pair b = open_from(t, "10.0.0.2");
	struct pair c, d;

	(void)state;
	conntrack_answering(t, a.id);
	c = open_from(t, "10.0.0.3");
	assert_true(hung_up(&b));
	assert_true(open_now(&a));
	assert_true(open_now(&c));
	conntrack_answering(t, c.id);
	d = open_from(t, "10.0.0.4");
	assert_true(hung_up(&d));
	assert_true(open_now(&a));
	assert_true(open_now(&c));
	assert_int_equal(conntrack_count(t), 2);
	assert_int_equal(close_pair(t, &a), CONNTRACK_END_NONE);
	assert_int_equal(close_pair(t, &b), CONNTRACK_END_MADE_ROOM);
	close_pair(t, &c);
	assert_int_equal(close_pair(t, &d), CONNTRACK_END_NO_ROOM);
	conntrack_free(t);
}

/* A request has its deadline however the bytes trickle; the clock stops
   while it is answered and starts again for the next one. */
static void
test_request_deadline(void **state)
{
	struct conntrack *t = tracker(10, 0, 20);
	struct pair a = open_from(t, "10.0.0.1");
	struct pair b = open_from(t, "10.0.0.2");
	unsigned long long now = now_usec();

	(void)state;
	conntrack_expire(t, now + 4 * SECOND);
	assert_true(open_now(&a));
	conntrack_answering(t, b.id);
	conntrack_expire(t, now + 6 * SECOND);
	assert_true(hung_up(&a));
	assert_true(open_now(&b));
	conntrack_waiting(t, b.id);
	now = now_usec();
	conntrack_expire(t, now + 4 * SECOND);
	assert_true(open_now(&b));
	conntrack_expire(t, now + 6 * SECOND);
	assert_true(hung_up(&b));
	assert_int_equal(conntrack_count(t), 0);
	assert_int_equal(close_pair(t, &a), CONNTRACK_END_OVERDUE);
	assert_int_equal(close_pair(t, &b), CONNTRACK_END_OVERDUE);
	conntrack_free(t);
}

/* A connected pair over TCP on loopback, as the server sees it. */
static void
tcp_pair(int *server, int *client)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	*client = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(*client, (struct sockaddr *)&sin,
	                         sizeof(sin)), 0);
	*server = accept(l, NULL, NULL);
	assert_true(*server >= 0);
	close(l);
}

/*
 * A peer that sent its last bytes and its end together: a reader woken
 * by edges (as the HTTP library is) reads the bytes, and gets another
 * edge to find the end, which the end itself no longer brings.
 */
static void
test_hang_up_shown_once_read(void **state)
{
	struct conntrack *t = tracker(10, 0, 20);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	struct pollfd pfd = { .events = POLLRDHUP };
	struct sockaddr_storage from = addr("127.0.0.1");
	struct pair p;
	char buf[64];
	int ep;

	(void)state;
	tcp_pair(&p.server, &p.client);
	p.id = conntrack_open(t, p.server, (struct sockaddr *)&from);
	assert_int_equal(send(p.client, "GET /", 5, 0), 5);
	assert_int_equal(shutdown(p.client, SHUT_WR), 0);
	pfd.fd = p.server;
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	/* Watched from here on, both have come: one edge for the two. */
	ep = epoll_create1(0);
	assert_true(ep >= 0);
	ev.data.fd = p.server;
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, p.server, &ev), 0);
	assert_int_equal(epoll_wait(ep, &ev, 1, 5000), 1);
	assert_int_equal(recv(p.server, buf, sizeof(buf), 0), 5);
	assert_int_equal(epoll_wait(ep, &ev, 1, 5000), 1);
	assert_int_equal(recv(p.server, buf, sizeof(buf), 0), 0);
	/* Our end still sends: a reply to what was read gets through. */
	assert_int_equal(send(p.server, "HTTP/1.1", 8, MSG_NOSIGNAL), 8);
	assert_int_equal(recv(p.client, buf, sizeof(buf), 0), 8);
	close(ep);
	close_pair(t, &p);
	conntrack_free(t);
}

/* A closed connection's id is void, even once its slot is taken again. */
static void
test_stale_id_ignored(void **state)
{
	struct conntrack *t = tracker(1, 0, 2);
	struct pair a = open_from(t, "10.0.0.1");
	conntrack_id old = a.id;
	struct pair b, c;

	(void)state;
	close_pair(t, &a);
	b = open_from(t, "10.0.0.2");
	assert_int_not_equal(b.id, 0);
	assert_int_not_equal(b.id, old);
	conntrack_answering(t, old);
	assert_int_equal(conntrack_close(t, old), CONNTRACK_END_NONE);
	assert_int_equal(conntrack_count(t), 1);
	/* b still waits: a newcomer at the cap of one displaces it. */
	c = open_from(t, "10.0.0.3");
	assert_true(hung_up(&b));
	assert_true(open_now(&c));
	close_pair(t, &b);
	close_pair(t, &c);
	conntrack_free(t);
}

/* Beyond its capacity the tracker takes nothing and hangs up. */
static void
test_full_tracker_refuses(void **state)
{
	struct conntrack *t = tracker(5, 0, 2);
	struct pair a = open_from(t, "10.0.0.1");
	struct pair b = open_from(t, "10.0.0.2");
	struct pair c = open_from(t, "10.0.0.3");

	(void)state;
	assert_int_equal(c.id, 0);
	assert_true(hung_up(&c));
	assert_true(open_now(&a) && open_now(&b));
	close_pair(t, &a);
	close_pair(t, &b);
	close_pair(t, &c);
	conntrack_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_address_evicts_oldest_of_that_address),
		cmocka_unit_test(test_ipv6_capped_per_64),
		cmocka_unit_test(test_listener_cap_spares_answered),
		cmocka_unit_test(test_request_deadline),
		cmocka_unit_test(test_hang_up_shown_once_read),
		cmocka_unit_test(test_stale_id_ignored),
		cmocka_unit_test(test_full_tracker_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
