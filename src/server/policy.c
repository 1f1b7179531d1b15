/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/policy.h"

#include <stdlib.h>

#include "common/util.h"

struct policy *
policy_new(const struct policy_config *cfg)
{
	struct policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->refs = 1;
	p->cfg = *cfg;
	if (rate_limit_init(&p->rec, cfg->rec_rate, cfg->rec_burst,
	                    POLICY_BUCKETS) < 0 ||
	    rate_limit_init(&p->fail, cfg->fail_rate, cfg->fail_burst,
	                    POLICY_BUCKETS) < 0) {
		rate_limit_free(&p->rec);
		rate_limit_free(&p->fail);
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
	rate_limit_free(&p->rec);
	rate_limit_free(&p->fail);
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
	return limit(&p->rec, sa, client, true);
}

unsigned
policy_limit_fail(struct policy *p, const struct sockaddr *sa,
                  const char *client, bool take)
{
	return limit(&p->fail, sa, client, take);
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
