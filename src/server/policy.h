/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_POLICY_H
#define TETHERD_POLICY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "server/cidr.h"
#include "server/ratelimit.h"

#define POLICY_ALLOW_MAX 64
/* Buckets per table: addresses and clients share one per kind of limit. */
#define POLICY_BUCKETS 4096

/* Who may ask, and how often: what the command line and config say. */
struct policy_config {
	struct cidr allow[POLICY_ALLOW_MAX];	/* none: every address */
	size_t nallow;
	unsigned rec_rate, rec_burst;		/* per minute; 0: no limit */
	unsigned fail_rate, fail_burst;		/* failed authentications */
};

/* The buckets, which outlive a reload: a peer locked out stays so. */
struct policy_limits {
	int refs;
	struct rate_limit rec;		/* recoveries, per address and client */
	struct rate_limit fail;		/* failed authentications, likewise */
};

/* The policy requests use now: replaced whole on reload, shared by
   reference so that a request in flight keeps the one it started with. */
struct policy {
	int refs;
	struct policy_config cfg;
	struct policy_limits *limits;	/* shared with the policies before */
};

/* A new policy, or NULL when out of memory (nothing changed then). With
   prev, it takes over prev's buckets, which from now on count at cfg's
   rates, for prev's requests in flight too; else fresh ones. */
struct policy *policy_new(const struct policy_config *cfg, struct policy *prev);
struct policy *policy_ref(struct policy *p);
void policy_unref(struct policy *p);

/* Whether an address is served at all. */
bool policy_admits(const struct policy *p, const struct sockaddr *sa);

/*
 * Takes one recovery (take) or looks whether a failed authentication
 * would still be allowed (!take, on the fail table) for the address and,
 * when not NULL, the client. 0, or the seconds for Retry-After.
 */
unsigned policy_limit_rec(struct policy *p, const struct sockaddr *sa,
                          const char *client);
unsigned policy_limit_fail(struct policy *p, const struct sockaddr *sa,
                           const char *client, bool take);

struct policy_slot {
	pthread_mutex_t lock;
	struct policy *p;
};

struct policy *policy_slot_get(struct policy_slot *slot);
/* Installs p (taking over the caller's reference), drops the old one. */
void policy_slot_set(struct policy_slot *slot, struct policy *p);

#endif
