/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_AUDIT_H
#define TETHERD_AUDIT_H

#include <sys/socket.h>

/*
 * The audit trail: one JSON object per line for every recovery and every
 * denial, on stderr (the journal under systemd) and, when a file is open,
 * appended to it too. Lines carry no secret: a client is named, never its
 * token.
 */
struct audit_event {
	const char *event;		/* "recovery", "denied" or "pending" */
	const struct sockaddr *from;	/* the peer; NULL if unknown */
	const char *client;		/* authenticated or claimed name, or NULL */
	const char *kid;		/* the key asked for, or NULL */
	const char *outcome;		/* "ok", "failed", "denied", "pending" */
	unsigned status;		/* the HTTP status, 0 for none */
	const char *reason;		/* why, in a few words */
};

/*
 * Appends the trail to path from now on (creating it 0600), or to no
 * file when path is NULL; at start, and on SIGHUP for log rotation or a
 * new path. On failure the file open before stays in use. 0 or -errno.
 */
int audit_open(const char *path);

/* Stops appending to any file: audit_open(NULL). */
void audit_close(void);

/* Never fails visibly: an audit line that cannot be written is logged. */
void audit_write(const struct audit_event *e);

/* The peer as an address with no port, IPv4-mapped IPv6 shown as IPv4. */
void audit_address(const struct sockaddr *sa, char *buf, size_t len);

#endif
