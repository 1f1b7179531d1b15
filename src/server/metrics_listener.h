/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_METRICS_LISTENER_H
#define TETHERD_METRICS_LISTENER_H

#include "server/keystore.h"

/* What a scrape reads beside the counters; both outlive the listener. */
struct metrics_source {
	struct keystore *keys;
	/* Recoveries held for approval now, and clients past their
	   heartbeat, or both NULL while there can be none. */
	size_t (*approvals_pending)(void *arg);
	size_t (*past_heartbeat)(void *arg);
	void *arg;
};

struct metrics_listener;

/*
 * Serves GET /metrics (Prometheus text format) on the listening socket
 * fd, which it takes, with one thread and a few connections: a scraper,
 * not a crowd. Plain HTTP with no credentials: the operator chooses an
 * address only monitoring reaches. Returns NULL after logging.
 */
struct metrics_listener *metrics_listener_start(int fd,
                                                const struct metrics_source *src);

/* Stops serving; accepts NULL. */
void metrics_listener_stop(struct metrics_listener *l);

#endif
