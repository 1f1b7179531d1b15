/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_CLIENTS_H
#define TETHERD_CLIENTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include "server/cidr.h"

/*
 * Client credentials: a name and a random token the client sends with
 * HTTP Basic. The server keeps only the token's SHA-256 (a token has 256
 * bits of entropy: no slow hash is needed). The file has one line per
 * client, "NAME enabled|disabled SHA256HEX [CIDR,...] [approval=manual]
 * [heartbeat=SECONDS]", and is mode 0600; with CIDRs, the client is
 * accepted only from those addresses; with approval=manual, its
 * recoveries wait for an operator, with a heartbeat they are refused once
 * its last heartbeat is older than that (see approvals.h).
 */
#define CLIENT_NAME_MAX 64
#define CLIENT_HASH_HEX 64
#define CLIENTS_MAX 4096
#define CLIENT_ALLOW_MAX 8
#define CLIENT_APPROVAL_WORD "approval=manual"
#define CLIENT_HEARTBEAT_WORD "heartbeat="
/* Ten years, in seconds: the longest heartbeat period. */
#define CLIENT_HEARTBEAT_MAX (10UL * 366 * 24 * 3600)

struct client {
	char name[CLIENT_NAME_MAX + 1];
	char hash[CLIENT_HASH_HEX + 1];
	bool enabled;
	struct cidr allow[CLIENT_ALLOW_MAX];
	size_t nallow;
	bool approval;		/* recoveries wait for an operator */
	unsigned long heartbeat;	/* seconds; 0: no presence asked */
};

/* What a client's recoveries are subject to beyond its credentials. */
struct client_rules {
	bool approval;
	unsigned long heartbeat;
};

struct client_list {
	struct client *c;
	size_t n;
};

/* Names are [A-Za-z0-9._-], 1 to 64 characters: safe in URLs and logs. */
bool client_name_valid(const char *name);

/* Parses the file's text; -EINVAL with the line number in *line. */
int clients_parse(const char *text, size_t len, struct client_list *out,
                  size_t *line);

/* " approval=manual heartbeat=N" as far as the client has them. */
void client_print_rules(FILE *f, const struct client *c);

/* " CIDR,CIDR" for a client with an allow-list, nothing otherwise. */
void client_print_allow(FILE *f, const struct client *c);

/* The file's text; free() it. */
char *clients_format(const struct client_list *l);

void clients_free(struct client_list *l);

struct client *clients_find(const struct client_list *l, const char *name);

/* hex SHA-256 of a token, the form kept in the file. */
int client_token_hash(const char *token, size_t len,
                      char hex[CLIENT_HASH_HEX + 1]);

/* The outcome of checking credentials against the list. */
enum client_check {
	CLIENT_OK,
	CLIENT_UNKNOWN,		/* no such name, or the wrong token: 401 */
	CLIENT_DISABLED,	/* right token, disabled: 403 */
	CLIENT_ELSEWHERE,	/* right token, address not allowed: 403 */
	CLIENT_UNAVAILABLE,	/* the file cannot be read now: 503 */
};

/* Constant time in the token; names are not secret. from may be NULL
   when the address is unknown, which no allow-list accepts. */
enum client_check clients_check(const struct client_list *l, const char *name,
                                const char *token, const struct sockaddr *from);

/* The same, with the client's rules for CLIENT_OK (rules may be NULL). */
enum client_check clients_check_rules(const struct client_list *l,
                                      const char *name, const char *token,
                                      const struct sockaddr *from,
                                      struct client_rules *rules);

/*
 * The registry a server consults: the file is read again whenever it
 * changed (checked at each request, so that disabling a client takes
 * effect at once, with no signal). It fails closed: while the file
 * cannot be read or parsed, no credential is accepted, since the last
 * good list may hold a client disabled since.
 */
struct client_registry {
	pthread_mutex_t lock;
	char *path;			/* owned */
	struct stat seen;
	int seen_error;			/* what stat() said then, -errno */
	struct client_list list;
	bool unavailable;		/* the file changed and cannot be read */
	unsigned long long tried;	/* when it was last read, now_usec() */
	/* Called with each list installed, under the lock; or NULL. */
	void (*loaded)(const char *path, const struct client_list *l);
};

/* Reads path (copied); a missing file is an empty list. 0 or -errno. */
int client_registry_open(struct client_registry *r, const char *path);

/* Checks credentials against the current file; CLIENT_UNAVAILABLE while
   it is unreadable or malformed (logged when that starts and ends).
   rules (may be NULL) as clients_check_rules. */
enum client_check client_registry_check(struct client_registry *r,
                                        const char *name, const char *token,
                                        const struct sockaddr *from,
                                        struct client_rules *rules);

/* Calls fn with each client of the current file, under the registry's
   lock (fn must not call back into it); nothing while it is unavailable. */
void client_registry_each(struct client_registry *r,
                          void (*fn)(const struct client *c, void *arg),
                          void *arg);

/* From now on fn is called with each list read, under the registry's
   lock (fn must not call back into it); once at once with the current
   one. */
void client_registry_on_load(struct client_registry *r,
                             void (*fn)(const char *path,
                                        const struct client_list *l));

/* Copies the file's path now into buf. 0 or -ENAMETOOLONG. */
int client_registry_path(struct client_registry *r, char *buf, size_t len);

/* Reads path (copied) and serves from it from now on; on failure,
   logged, the registry goes on as it was. 0 or -errno. */
int client_registry_repoint(struct client_registry *r, const char *path);

void client_registry_close(struct client_registry *r);

/* Parses "CIDR[,CIDR...]" into c's allow-list. 0 or -EINVAL. */
int client_allow_parse(struct client *c, const char *list);

/* tetherd clients add|list|enable|disable|remove */
int cmd_clients(int argc, char **argv);

#endif
