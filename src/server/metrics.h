/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_METRICS_H
#define TETHERD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * What the server counts for an operator's monitoring, in Prometheus's
 * text exposition format. One set per process. Every update is a few
 * atomic operations and takes no lock, so counting never holds up a
 * request; a scrape reads the counters as they are at that moment.
 */

/* Which endpoint a request was for, as the latency histogram splits it. */
enum metrics_route {
	METRICS_ROUTE_ADV,
	METRICS_ROUTE_REC,
	METRICS_ROUTE_OTHER,
	METRICS_ROUTES
};

/*
 * A recovery's outcome as the audit records it ("ok", "failed",
 * "denied" or "pending"), for the client when one authenticated (NULL or "" for none:
 * a name that did not authenticate is never a label, so that nobody can
 * grow the table by guessing). Names past the table's room are counted
 * with no client.
 */
void metrics_recovery(const char *outcome, const char *client);

/* A refused request, by the reason the audit gives; reasons the table
   does not know are counted as "other". */
void metrics_denial(const char *reason);

/* The time from a request's first byte to its reply, in microseconds. */
void metrics_latency(enum metrics_route route, unsigned long long usec);

/* A connection opened or closed on a Tang listener. */
void metrics_connection(bool opened);

/* A reload's result, at the wall-clock time it ended. */
void metrics_reload(bool ok);

/* Events the notify program was not run for. */
void metrics_notify_dropped(unsigned n);

/* What a scrape reads from the server beside the counters. */
struct metrics_gauges {
	size_t keys_advertised;
	size_t keys_total;
	bool approvals;			/* approvals exist: pending counted */
	size_t approvals_pending;
	size_t past_heartbeat;		/* clients, with approvals */
};

/* Writes every metric to f. 0, or -EIO when f failed. */
int metrics_write(FILE *f, const struct metrics_gauges *g);

/* Clears every counter: for tests, and once at the server's start. */
void metrics_reset(void);

#endif
