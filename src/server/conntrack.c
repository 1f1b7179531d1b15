/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/conntrack.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/util.h"
#include "server/ratelimit.h"

#define NIL UINT32_MAX
/* An address key: rate_key_address's, IPv6 cut to its /64. */
#define KEY_MAX 9
#define EVENTS_MAX 64
/* How soon to look again at a hung-up peer's bytes the library has not
   read yet. */
#define UNREAD_RETRY_MS 10

enum conn_state {
	CONN_FREE,
	CONN_WAITING,		/* for a request, on the waiting list */
	CONN_ANSWERING,		/* a reply is being written */
	CONN_CLOSING,		/* shut down by us; no longer counted */
};

struct conn {
	enum conn_state state;
	uint32_t gen;		/* bumped on reuse, so stale ids miss */
	int fd;
	bool peer_closed;
	enum conntrack_end end;
	unsigned long long since;	/* waiting for its request since */
	uint32_t prev, next;	/* waiting list, longest waiting first */
	uint8_t key[KEY_MAX];
	uint8_t keylen;		/* 0: not an IP peer, no per-address cap */
};

/* Counted connections per address key, open addressing. */
struct key_count {
	uint8_t key[KEY_MAX];
	uint8_t keylen;		/* 0: free */
	unsigned count;
};

struct conntrack {
	pthread_mutex_t lock;
	struct conntrack_limits lim;
	struct conn *conns;
	uint32_t *free_slots;	/* a stack */
	uint32_t nfree;
	uint32_t head, tail;	/* the waiting list */
	unsigned counted;
	struct key_count *keys;
	size_t nkeys;		/* a power of two, over twice the capacity */
	uint64_t seed;
	conntrack_id *hung;	/* hung up, to be shown the end once read */
	uint32_t nhung;
	int epfd;		/* peers' hang-ups, and stop */
	int stopfd;
	pthread_t reaper;
	bool reaper_running;
};

static conntrack_id
conn_id(const struct conntrack *t, uint32_t slot)
{
	return (conntrack_id)t->conns[slot].gen << 32 | slot;
}

/* The slot id names, or NIL once it names none. */
static uint32_t
conn_slot(const struct conntrack *t, conntrack_id id)
{
	uint32_t s = (uint32_t)id;

	if (id == 0 || s >= t->lim.capacity)
		return NIL;
	if (t->conns[s].state == CONN_FREE || t->conns[s].gen != id >> 32)
		return NIL;
	return s;
}

static struct key_count *
key_find(struct conntrack *t, const uint8_t *key, size_t len)
{
	size_t mask = t->nkeys - 1;
	size_t at = rate_key_hash(t->seed, key, len) & mask;

	/* Never full: at most capacity keys in over twice as many cells. */
	for (;; at = (at + 1) & mask) {
		struct key_count *k = &t->keys[at];

		if (k->keylen == 0 ||
		    (k->keylen == len && memcmp(k->key, key, len) == 0))
			return k;
	}
}

/* Deletes a cell, moving later ones of its probe run back into the gap. */
static void
key_delete(struct conntrack *t, struct key_count *k)
{
	size_t mask = t->nkeys - 1, gap = (size_t)(k - t->keys), at = gap;

	for (;;) {
		size_t home;

		at = (at + 1) & mask;
		if (t->keys[at].keylen == 0)
			break;
		home = rate_key_hash(t->seed, t->keys[at].key,
		                     t->keys[at].keylen) & mask;
		/* Stays unless its home lies cyclically outside (gap, at]. */
		if (((at - home) & mask) < ((at - gap) & mask))
			continue;
		t->keys[gap] = t->keys[at];
		gap = at;
	}
	memset(&t->keys[gap], 0, sizeof(t->keys[gap]));
}

static void
list_remove(struct conntrack *t, uint32_t slot)
{
	struct conn *c = &t->conns[slot];

	if (c->prev != NIL)
		t->conns[c->prev].next = c->next;
	else
		t->head = c->next;
	if (c->next != NIL)
		t->conns[c->next].prev = c->prev;
	else
		t->tail = c->prev;
	c->prev = c->next = NIL;
}

static void
list_append(struct conntrack *t, uint32_t slot)
{
	struct conn *c = &t->conns[slot];

	c->prev = t->tail;
	c->next = NIL;
	if (t->tail != NIL)
		t->conns[t->tail].next = slot;
	else
		t->head = slot;
	t->tail = slot;
}

static void
count_add(struct conntrack *t, struct conn *c)
{
	struct key_count *k;

	t->counted++;
	if (c->keylen == 0)
		return;
	k = key_find(t, c->key, c->keylen);
	if (k->keylen == 0) {
		memcpy(k->key, c->key, c->keylen);
		k->keylen = c->keylen;
	}
	k->count++;
}

static void
count_remove(struct conntrack *t, struct conn *c)
{
	struct key_count *k;

	t->counted--;
	if (c->keylen == 0)
		return;
	k = key_find(t, c->key, c->keylen);
	if (k->keylen != 0 && --k->count == 0)
		key_delete(t, k);
}

static unsigned
count_of(struct conntrack *t, const uint8_t *key, size_t len)
{
	return len ? key_find(t, key, len)->count : 0;
}

/* Stops counting a connection and hangs up on its peer. */
static void
conn_shut(struct conntrack *t, uint32_t slot, enum conntrack_end why)
{
	struct conn *c = &t->conns[slot];

	if (c->state == CONN_CLOSING)
		return;
	if (c->state == CONN_WAITING)
		list_remove(t, slot);
	count_remove(t, c);
	c->state = CONN_CLOSING;
	c->end = why;
	shutdown(c->fd, SHUT_RDWR);
}

/* The connection waiting longest, of the key if one is given. */
static uint32_t
longest_waiting(struct conntrack *t, const uint8_t *key, size_t len)
{
	uint32_t s = t->head;

	while (s != NIL && len &&
	       (t->conns[s].keylen != len ||
	        memcmp(t->conns[s].key, key, len) != 0))
		s = t->conns[s].next;
	return s;
}

/* Room for one more of key under both caps, or false. */
static bool
make_room(struct conntrack *t, const uint8_t *key, size_t len)
{
	uint32_t s;

	if (t->lim.per_address && count_of(t, key, len) >= t->lim.per_address) {
		s = longest_waiting(t, key, len);
		if (s == NIL)
			return false;
		conn_shut(t, s, CONNTRACK_END_MADE_ROOM);
	}
	if (t->counted >= t->lim.connections) {
		s = longest_waiting(t, NULL, 0);
		if (s == NIL)
			return false;
		conn_shut(t, s, CONNTRACK_END_MADE_ROOM);
	}
	return true;
}

conntrack_id
conntrack_open(struct conntrack *t, int fd, const struct sockaddr *from)
{
	struct epoll_event ev = { .events = EPOLLRDHUP | EPOLLET };
	uint8_t key[RATE_KEY_MAX];
	size_t len = rate_key_address(from, key);
	conntrack_id id;
	struct conn *c;
	uint32_t slot;

	if (len > KEY_MAX)
		len = 0;
	pthread_mutex_lock(&t->lock);
	if (t->nfree == 0) {
		pthread_mutex_unlock(&t->lock);
		shutdown(fd, SHUT_RDWR);
		return 0;
	}
	slot = t->free_slots[--t->nfree];
	c = &t->conns[slot];
	if (++c->gen == 0)
		c->gen = 1;
	c->fd = fd;
	c->peer_closed = false;
	c->end = CONNTRACK_END_NONE;
	c->since = now_usec();
	c->prev = c->next = NIL;
	memcpy(c->key, key, len);
	c->keylen = (uint8_t)len;
	id = conn_id(t, slot);
	if (make_room(t, key, len)) {
		c->state = CONN_WAITING;
		count_add(t, c);
		list_append(t, slot);
		ev.data.u64 = id;
		/* Without the watch a hang-up waits for the deadline. */
		epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev);
	} else {
		c->state = CONN_CLOSING;
		c->end = CONNTRACK_END_NO_ROOM;
		shutdown(fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&t->lock);
	return id;
}

static void
answering(struct conntrack *t, uint32_t slot)
{
	struct conn *c = &t->conns[slot];

	if (c->state == CONN_WAITING) {
		list_remove(t, slot);
		c->state = CONN_ANSWERING;
	}
}

static void
waiting(struct conntrack *t, uint32_t slot)
{
	struct conn *c = &t->conns[slot];

	if (c->state != CONN_ANSWERING)
		return;
	c->state = CONN_WAITING;
	c->since = now_usec();
	list_append(t, slot);
}

static enum conntrack_end
forget(struct conntrack *t, uint32_t slot)
{
	struct conn *c = &t->conns[slot];
	enum conntrack_end end = c->end;

	epoll_ctl(t->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	if (c->state == CONN_WAITING)
		list_remove(t, slot);
	if (c->state != CONN_CLOSING)
		count_remove(t, c);
	c->state = CONN_FREE;
	c->fd = -1;
	t->free_slots[t->nfree++] = slot;
	return end;
}

/* Applies a change to the connection id names, if it still does. */
static void
change(struct conntrack *t, conntrack_id id,
       void (*fn)(struct conntrack *, uint32_t))
{
	uint32_t slot;

	pthread_mutex_lock(&t->lock);
	slot = conn_slot(t, id);
	if (slot != NIL)
		fn(t, slot);
	pthread_mutex_unlock(&t->lock);
}

void
conntrack_answering(struct conntrack *t, conntrack_id id)
{
	change(t, id, answering);
}

void
conntrack_waiting(struct conntrack *t, conntrack_id id)
{
	change(t, id, waiting);
}

enum conntrack_end
conntrack_close(struct conntrack *t, conntrack_id id)
{
	enum conntrack_end end = CONNTRACK_END_NONE;
	uint32_t slot;

	pthread_mutex_lock(&t->lock);
	slot = conn_slot(t, id);
	if (slot != NIL)
		end = forget(t, slot);
	pthread_mutex_unlock(&t->lock);
	return end;
}

static void
expire_locked(struct conntrack *t, unsigned long long now_us)
{
	unsigned long long limit = t->lim.request_timeout * 1000000ULL;

	while (t->head != NIL && now_us - t->conns[t->head].since >= limit)
		conn_shut(t, t->head, CONNTRACK_END_OVERDUE);
}

void
conntrack_expire(struct conntrack *t, unsigned long long now_us)
{
	pthread_mutex_lock(&t->lock);
	expire_locked(t, now_us);
	pthread_mutex_unlock(&t->lock);
}

unsigned
conntrack_count(struct conntrack *t)
{
	unsigned n;

	pthread_mutex_lock(&t->lock);
	n = t->counted;
	pthread_mutex_unlock(&t->lock);
	return n;
}

/*
 * The library reads a peer's end only on a new readiness edge, and an
 * end that came with the last bytes brings none: it would wait for the
 * idle timeout. Shutting our reading side down makes that edge. Made
 * while bytes are still unread, the library's read of them would take
 * the edge too, so it waits until they are read; they still are, so a
 * whole request is answered, and a half one is closed as any is.
 * Returns whether the end is shown.
 */
static bool
show_end(struct conntrack *t, uint32_t slot)
{
	struct conn *c = &t->conns[slot];
	int unread = 0;

	if (c->state == CONN_CLOSING)
		return true;
	if (ioctl(c->fd, FIONREAD, &unread) == 0 && unread > 0)
		return false;
	shutdown(c->fd, SHUT_RD);
	return true;
}

static void
peer_hung_up(struct conntrack *t, conntrack_id id)
{
	uint32_t slot = conn_slot(t, id);

	if (slot == NIL || t->conns[slot].peer_closed)
		return;
	t->conns[slot].peer_closed = true;
	if (!show_end(t, slot) && t->nhung < t->lim.capacity)
		t->hung[t->nhung++] = id;
}

/* Shows the end to the hung-up peers whose bytes are read by now. */
static void
show_ends(struct conntrack *t)
{
	uint32_t kept = 0, slot;

	for (uint32_t i = 0; i < t->nhung; i++) {
		slot = conn_slot(t, t->hung[i]);
		if (slot != NIL && !show_end(t, slot))
			t->hung[kept++] = t->hung[i];
	}
	t->nhung = kept;
}

/* Milliseconds until the longest waiting connection is due. */
static int
next_due_ms(struct conntrack *t, unsigned long long now_us)
{
	unsigned long long limit = t->lim.request_timeout * 1000000ULL;
	unsigned long long waited;

	if (t->nhung > 0)
		return UNREAD_RETRY_MS;
	if (t->head == NIL)
		return (int)(t->lim.request_timeout * 1000U);
	waited = now_us - t->conns[t->head].since;
	return waited >= limit ? 0 : (int)((limit - waited + 999) / 1000);
}

static void *
reap(void *arg)
{
	struct conntrack *t = arg;
	struct epoll_event ev[EVENTS_MAX];
	int n, wait_ms;

	for (;;) {
		pthread_mutex_lock(&t->lock);
		wait_ms = next_due_ms(t, now_usec());
		pthread_mutex_unlock(&t->lock);
		n = epoll_wait(t->epfd, ev, EVENTS_MAX, wait_ms);
		if (n < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&t->lock);
		show_ends(t);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u64 == 0) {
				pthread_mutex_unlock(&t->lock);
				return NULL;
			}
			peer_hung_up(t, ev[i].data.u64);
		}
		expire_locked(t, now_usec());
		pthread_mutex_unlock(&t->lock);
	}
	return NULL;
}

static size_t
key_cells(unsigned capacity)
{
	size_t n = 16;

	while (n < 2 * (size_t)capacity + 1)
		n <<= 1;
	return n;
}

int
conntrack_new(const struct conntrack_limits *lim, struct conntrack **out)
{
	struct epoll_event stop = { .events = EPOLLIN, .data.u64 = 0 };
	struct conntrack *t;
	int r;

	if (lim->connections == 0 || lim->request_timeout == 0 ||
	    lim->capacity == 0 || lim->capacity >= NIL)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	t->lim = *lim;
	t->head = t->tail = NIL;
	t->epfd = t->stopfd = -1;
	t->nkeys = key_cells(lim->capacity);
	t->conns = calloc(lim->capacity, sizeof(*t->conns));
	t->free_slots = calloc(lim->capacity, sizeof(*t->free_slots));
	t->hung = calloc(lim->capacity, sizeof(*t->hung));
	t->keys = calloc(t->nkeys, sizeof(*t->keys));
	if (!t->conns || !t->free_slots || !t->keys || !t->hung) {
		conntrack_free(t);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < lim->capacity; i++) {
		t->conns[i].fd = -1;
		t->free_slots[t->nfree++] = lim->capacity - 1 - i;
	}
	if (getrandom(&t->seed, sizeof(t->seed), 0) != sizeof(t->seed))
		t->seed = (uint64_t)(uintptr_t)t ^ now_usec();
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->epfd < 0 || t->stopfd < 0 ||
	    epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->stopfd, &stop) < 0) {
		r = -errno;
		conntrack_free(t);
		return r;
	}
	r = -pthread_create(&t->reaper, NULL, reap, t);
	if (r < 0) {
		conntrack_free(t);
		return r;
	}
	t->reaper_running = true;
	*out = t;
	return 0;
}

void
conntrack_free(struct conntrack *t)
{
	uint64_t one = 1;

	if (!t)
		return;
	if (t->reaper_running) {
		if (write(t->stopfd, &one, sizeof(one)) != sizeof(one))
			pthread_cancel(t->reaper);
		pthread_join(t->reaper, NULL);
	}
	if (t->stopfd >= 0)
		close(t->stopfd);
	if (t->epfd >= 0)
		close(t->epfd);
	free(t->keys);
	free(t->hung);
	free(t->free_slots);
	free(t->conns);
	pthread_mutex_destroy(&t->lock);
	free(t);
}
