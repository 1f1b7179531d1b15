/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_APPROVALS_H
#define TETHERD_APPROVALS_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/jwk.h"
#include "server/clients.h"

/*
 * Approvals for clients marked approval=manual: a recovery of theirs is
 * held (pending) until an operator approves it, once or for a while, or
 * denies it. Nothing approves by default.
 *
 * The state is a file next to the clients file, its name with
 * ".approvals" added, one line per client:
 *
 *   NAME pending ADDRESS KID FIRST LAST   a recovery waits (times: epoch s)
 *   NAME once WHEN                        the next recovery is approved
 *   NAME until EXPIRY                     recoveries approved until EXPIRY
 *   NAME denied WHEN                      refused until approved again
 *   NAME seen LAST                        its last heartbeat
 *
 * A client has at most one line of the first four kinds and one "seen".
 * A client with a heartbeat period whose last heartbeat is older than
 * that gets no recovery and no heartbeat accepted (presence expired)
 * until an operator approves it, which also forgets the old heartbeat:
 * its next one counts from then. A client that never sent one is not
 * held for it.
 *
 * The server (adding and refreshing pending lines, using up "once") and
 * the approve and deny commands both write it, each holding an exclusive
 * flock(2) on the directory while it reads, changes and replaces the
 * file (atomically: readers see the old file or the new one), so that
 * neither loses what the other wrote.
 */
#define APPROVALS_SUFFIX ".approvals"
#define APPROVALS_MAX CLIENTS_MAX
/* Seconds a held client is told to wait before it asks again. */
#define APPROVAL_RETRY_AFTER 10

enum approval_state {
	APPROVAL_PENDING,
	APPROVAL_ONCE,
	APPROVAL_UNTIL,
	APPROVAL_DENIED,
	APPROVAL_SEEN,		/* a heartbeat, in last */
};

struct approval {
	char name[CLIENT_NAME_MAX + 1];
	enum approval_state state;
	char address[INET6_ADDRSTRLEN];	/* pending: the last address */
	char kid[JWK_THP_MAX + 1];	/* pending: the last key asked for */
	long long first;		/* pending: first seen; once, denied: when */
	long long last;			/* pending: last seen; until: the expiry;
					   seen: the last heartbeat */
};

struct approval_list {
	struct approval *a;
	size_t n;
};

/* Parses the file's text; -EINVAL with the line number in *line. */
int approvals_parse(const char *text, size_t len, struct approval_list *out,
                    size_t *line);

/* The file's text; free() it. NULL when out of memory. */
char *approvals_format(const struct approval_list *l);

void approvals_free(struct approval_list *l);

/* name's decision or pending line (seen false), or its heartbeat. */
struct approval *approvals_find(const struct approval_list *l,
                                const char *name, bool seen);

/* Sets name's line of a's kind (decision or heartbeat) to a, adding it.
   0 or -ENOSPC, -ENOMEM. */
int approvals_set(struct approval_list *l, const struct approval *a);

/* Removes name's line of that kind, if any. */
void approvals_remove(struct approval_list *l, const char *name, bool seen);

/* The state file of the clients file at clients_path, open and locked. */
struct approvals_file {
	int dirfd;
	char base[256];			/* its name in the directory */
	const char *clients_path;	/* for messages */
};

/* Opens the directory and takes its lock, waiting for it. 0 or -errno. */
int approvals_lock(const char *clients_path, struct approvals_file *f);

/* Reads the file (none is an empty list). 0, -EINVAL (logged) or -errno. */
int approvals_read(struct approvals_file *f, struct approval_list *l);

/* Replaces the file with l, mode 0600; owned by uid and gid unless
   uid is -1. 0 or -errno (logged). */
int approvals_write(struct approvals_file *f, const struct approval_list *l,
                    uid_t uid, gid_t gid);

/* Lets the lock go and closes the directory; accepts a closed one. */
void approvals_unlock(struct approvals_file *f);

enum approval_decision {
	APPROVAL_GRANTED,	/* go on with the recovery */
	APPROVAL_GRANTED_ONCE,	/* go on, by a "once" not used up yet: only a
				   recovery answered with a key uses it
				   (approvals_use_once) */
	APPROVAL_HELD,		/* pending: 503 with Retry-After */
	APPROVAL_REFUSED,	/* denied by an operator: 403 */
	APPROVAL_UNAVAILABLE,	/* the state cannot be read or written: 503 */
	APPROVAL_EXPIRED,	/* presence expired: 403 */
};

/* A recovery to decide on, or a heartbeat to record. */
struct approval_ask {
	const char *name;
	const char *address;
	const char *kid;
	bool approval;			/* the client's approval=manual */
	unsigned long heartbeat;	/* its heartbeat period, or 0 */
	long long now;			/* epoch seconds */
};

/*
 * The server's decision on a recovery by a client with approval=manual
 * or a heartbeat period, as it arrives, recorded in the state file: a
 * pending line added or refreshed, an expired "until" become pending. A
 * "once" is left for approvals_use_once (APPROVAL_GRANTED_ONCE): a
 * request that turns out malformed, or asks for a key the server does
 * not have, must not use up the operator's approval. Fails closed: what
 * cannot be read approves nothing.
 */
enum approval_decision approvals_decide(const char *clients_path,
                                        const struct approval_ask *ask);

/*
 * The decision again, once the key is ready to be sent to a recovery
 * that approvals_decide let through on a "once": the "once" is used up
 * (APPROVAL_GRANTED), or, gone meanwhile (another recovery used it, an
 * operator denied), the request is decided afresh, which holds it. A use
 * that cannot be recorded approves nothing (APPROVAL_UNAVAILABLE): it
 * would approve again.
 */
enum approval_decision approvals_use_once(const char *clients_path,
                                          const struct approval_ask *ask);

/*
 * Forgets the lines of every client not in keep (NULL: of name only),
 * so that a client added again under a removed one's name inherits
 * neither its approval nor its heartbeat. The file is written only when
 * a line goes, owned by uid and gid unless uid is -1. 0 or -errno
 * (logged).
 */
int approvals_forget(const char *clients_path, const struct client_list *keep,
                     const char *name, uid_t uid, gid_t gid);

/* Run as root, the owner of the clients file when it is not root's (the
   server's user, who reads and writes the state file too); else -1. */
void approvals_owner(const char *clients_path, uid_t *uid, gid_t *gid);

/* A heartbeat: recorded (APPROVAL_GRANTED), APPROVAL_EXPIRED (not
   recorded) or APPROVAL_UNAVAILABLE. */
enum approval_decision approvals_heartbeat(const char *clients_path,
                                           const struct approval_ask *ask);

/* Pending lines in the state file of clients_path; 0 when unreadable. */
size_t approvals_count_pending(const char *clients_path);

/* Whether a client with heartbeat period `heartbeat` and line `seen`
   (NULL: none yet) is past it at now. */
bool approvals_expired(const struct approval *seen, unsigned long heartbeat,
                       long long now);

/* Clients of r with a heartbeat period whose last heartbeat is older. */
size_t approvals_count_past_heartbeat(struct client_registry *r,
                                      long long now);

/* tetherd approvals list, approve NAME, deny NAME: exit statuses. */
int cmd_approvals(int argc, char **argv);
int cmd_approve(int argc, char **argv);
int cmd_deny(int argc, char **argv);

#endif
