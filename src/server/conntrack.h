/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_CONNTRACK_H
#define TETHERD_CONNTRACK_H

#include <stdint.h>
#include <sys/socket.h>

/*
 * A listener's connections from accept to close, so that clients that
 * are slow on purpose, or gone, cannot hold its caps:
 *
 * - a connection has request_timeout seconds to deliver each request
 *   whole, counted from its accept or from its last reply, however many
 *   bytes trickle in meanwhile;
 * - one whose peer closed its side is shown that end at once (the
 *   library would notice it only at the idle timeout): what came before
 *   it is still read and answered, a half request is closed;
 * - when the listener, or the newcomer's address (IPv4 whole, IPv6 by
 *   its /64), is at its cap, the connection that has waited longest for
 *   its request is closed to make room, rather than the newcomer turned
 *   away: a flood cannot lock out a client behind it or behind the same
 *   NAT. Only when every counted connection is being answered is the
 *   newcomer closed.
 *
 * Closing is shutdown(2) of the socket; the HTTP library sees the hang-up
 * and closes it itself. A descriptor is never touched after
 * conntrack_close, which the library calls before it closes one, and all
 * calls may come from any thread.
 */
struct conntrack_limits {
	unsigned connections;		/* counted at once; at least 1 */
	unsigned per_address;		/* 0: no cap */
	unsigned request_timeout;	/* seconds; at least 1 */
	unsigned capacity;		/* tracked at once, closing ones too */
};

struct conntrack;

/* A tracked connection; 0 is none. */
typedef uint64_t conntrack_id;

/* Starts the reaper thread. 0, or -errno. */
int conntrack_new(const struct conntrack_limits *lim, struct conntrack **out);

/* Stops the reaper; every connection must have been closed. Accepts NULL. */
void conntrack_free(struct conntrack *t);

/*
 * A connection accepted on socket fd from peer `from`, waiting for its
 * first request. Makes room under the caps as above. Returns its id,
 * or 0 (with fd shut down) when the tracker is full.
 */
conntrack_id conntrack_open(struct conntrack *t, int fd,
                            const struct sockaddr *from);

/* A reply to the request is on its way: no deadline while it is written. */
void conntrack_answering(struct conntrack *t, conntrack_id id);

/* The reply was sent: the next request's deadline starts now. */
void conntrack_waiting(struct conntrack *t, conntrack_id id);

/* Why the tracker shut a connection down. */
enum conntrack_end {
	CONNTRACK_END_NONE,		/* it did not */
	CONNTRACK_END_OVERDUE,		/* its request was not whole in time */
	CONNTRACK_END_MADE_ROOM,	/* for a newcomer, at a cap */
	CONNTRACK_END_NO_ROOM,		/* a newcomer, all others answered */
};

/* The library is about to close the socket; id is void afterwards.
   Returns why the tracker shut it down, if it did. */
enum conntrack_end conntrack_close(struct conntrack *t, conntrack_id id);

/* Closes the connections whose request is overdue at now_us (the
   monotonic clock of now_usec); the reaper calls it. */
void conntrack_expire(struct conntrack *t, unsigned long long now_us);

/* Counted connections: waiting for a request or being answered. */
unsigned conntrack_count(struct conntrack *t);

#endif
