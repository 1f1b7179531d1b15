/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/policy.h"

#include <stdlib.h>

#include "common/util.h"

static struct policy_limits *
limits_new(const struct policy_config *cfg)
{
	struct policy_limits *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->refs = 1;
	if (rate_limit_init(&l->rec, cfg->rec_rate, cfg->rec_burst,
	                    POLICY_BUCKETS) < 0 ||
	    rate_limit_init(&l->fail, cfg->fail_rate, cfg->fail_burst,
	                    POLICY_BUCKETS) < 0) {
		rate_limit_free(&l->rec);
		rate_limit_free(&l->fail);
		free(l);
		return NULL;
	}
	return l;
}

static void
limits_unref(struct policy_limits *l)
{
	if (!l || __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	rate_limit_free(&l->rec);
	rate_limit_free(&l->fail);
	free(l);
}

/* prev's buckets at cfg's rates. Out of memory for a table a limit
   turned on needs, NULL, with the recovery rate perhaps already new. */
static struct policy_limits *
limits_take_over(struct policy_limits *l, const struct policy_config *cfg)
{
	if (rate_limit_set(&l->rec, cfg->rec_rate, cfg->rec_burst) < 0 ||
	    rate_limit_set(&l->fail, cfg->fail_rate, cfg->fail_burst) < 0)
		return NULL;
	__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
	return l;
}

struct policy *
policy_new(const struct policy_config *cfg, struct policy *prev)
{
	struct policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->refs = 1;
	p->cfg = *cfg;
	p->limits = prev ? limits_take_over(prev->limits, cfg) : limits_new(cfg);
	if (!p->limits) {
		free(p);
		return NULL;
	}
	return p;
}

struct policy *
policy_ref(struct policy *p)
{
	if (p)
		__atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
	return p;
}

void
policy_unref(struct policy *p)
{
	if (!p || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	limits_unref(p->limits);
	free(p);
}

bool
policy_admits(const struct policy *p, const struct sockaddr *sa)
{
	return p->cfg.nallow == 0 || cidr_any(p->cfg.allow, p->cfg.nallow, sa);
}

/* The larger wait of the address's bucket and the client's. */
static unsigned
limit(struct rate_limit *rl, const struct sockaddr *sa, const char *client,
      bool take)
{
	uint8_t key[RATE_KEY_MAX];
	uint64_t now = now_usec();
	unsigned a, c = 0;

	a = rate_limit_check(rl, key, rate_key_address(sa, key), take, now);
	if (client && *client)
		c = rate_limit_check(rl, key, rate_key_client(client, key),
		                     take, now);
	return a > c ? a : c;
}

unsigned
policy_limit_rec(struct policy *p, const struct sockaddr *sa,
                 const char *client)
{
	return limit(&p->limits->rec, sa, client, true);
}

unsigned
policy_limit_fail(struct policy *p, const struct sockaddr *sa,
                  const char *client, bool take)
{
	return limit(&p->limits->fail, sa, client, take);
}

struct policy *
policy_slot_get(struct policy_slot *slot)
{
	struct policy *p;

	pthread_mutex_lock(&slot->lock);
	p = policy_ref(slot->p);
	pthread_mutex_unlock(&slot->lock);
	return p;
}

void
policy_slot_set(struct policy_slot *slot, struct policy *p)
{
	struct policy *old;

	pthread_mutex_lock(&slot->lock);
	old = slot->p;
	slot->p = p;
	pthread_mutex_unlock(&slot->lock);
	policy_unref(old);
}
