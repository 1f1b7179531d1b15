/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_NOTIFY_H
#define TETHERD_NOTIFY_H

#include <stddef.h>

#include "server/audit.h"

/*
 * The notify program: run for each audit event (recovery, denial,
 * pending approval) with the event's JSON line on standard input and
 * TETHER_EVENT, TETHER_CLIENT and TETHER_ADDRESS in its environment.
 *
 * Programs are started by a helper process forked before the system call
 * filter is installed, so the server itself never forks or executes
 * anything: a request thread hands the event to the helper with one
 * non-blocking send and goes on. The helper runs the program directly
 * (no shell), in a process group of its own that is killed at the
 * timeout, with at most max_running at once; events past that, or past
 * what the socket between the two holds, are dropped, counted and
 * logged. The helper holds none of the server's sockets or files.
 */
struct notify_config {
	const char *program;		/* an absolute path */
	unsigned timeout;		/* seconds before the group is killed */
	unsigned max_running;		/* programs at once */
};

/*
 * Forks the helper (the caller must have no other thread yet). Returns
 * 0, or -errno after logging. Nothing to do without a program.
 */
int notify_start(const struct notify_config *cfg);

/* The socket the helper reports dropped events on, for the caller's
   poll; -1 without a helper. */
int notify_report_fd(void);

/* Reads the helper's reports into the metrics; call when readable. */
void notify_read_reports(void);

/* Hands an event to the helper; never blocks, never fails visibly. */
void notify_event(const struct audit_event *e, const char *address,
                  const char *json, size_t len);

/* Lets the helper go: it finishes the programs running, then exits. */
void notify_stop(void);

#endif
