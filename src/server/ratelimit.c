/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/ratelimit.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/util.h"

/* Called with the lock held, or before the table is shared. */
static int
allocate(struct rate_limit *rl)
{
	rl->table = calloc(rl->size, sizeof(*rl->table));
	if (!rl->table)
		return -ENOMEM;
	/* A seed the peer cannot guess keeps it from aiming at one slot. */
	if (getrandom(&rl->seed, sizeof(rl->seed), 0) != sizeof(rl->seed))
		rl->seed = (uint64_t)(uintptr_t)rl->table ^ 0x9e3779b97f4a7c15ULL;
	return 0;
}

int
rate_limit_init(struct rate_limit *rl, unsigned rate, unsigned burst,
                size_t size)
{
	size_t n = RATE_PROBES;

	memset(rl, 0, sizeof(*rl));
	rl->rate = rate;
	rl->burst = burst ? burst : 1;
	pthread_mutex_init(&rl->lock, NULL);
	while (n < size)
		n <<= 1;
	rl->size = n;
	return rate == 0 ? 0 : allocate(rl);
}

int
rate_limit_set(struct rate_limit *rl, unsigned rate, unsigned burst)
{
	int r = 0;

	pthread_mutex_lock(&rl->lock);
	if (rate != 0 && !rl->table)
		r = allocate(rl);
	if (r == 0) {
		rl->rate = rate;
		rl->burst = burst ? burst : 1;
	}
	pthread_mutex_unlock(&rl->lock);
	return r;
}

void
rate_limit_free(struct rate_limit *rl)
{
	free(rl->table);
	rl->table = NULL;
	pthread_mutex_destroy(&rl->lock);
}

static uint64_t
hash(uint64_t seed, const uint8_t *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= key[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	return h ^ (h >> 33);
}

static void
refill(const struct rate_limit *rl, struct rate_bucket *b, uint64_t now_us)
{
	double add = (double)(now_us - b->last_us) * rl->rate / 60e6;

	if (now_us < b->last_us)
		add = 0;
	b->tokens = b->tokens + add > rl->burst ? rl->burst : b->tokens + add;
	b->last_us = now_us;
}

/* The key's bucket, or the slot it takes over. Called with the lock. */
static struct rate_bucket *
find(struct rate_limit *rl, const uint8_t *key, size_t len, uint64_t now_us)
{
	size_t mask = rl->size - 1, at = hash(rl->seed, key, len) & mask;
	struct rate_bucket *spare = NULL;

	for (size_t i = 0; i < RATE_PROBES; i++) {
		struct rate_bucket *b = &rl->table[(at + i) & mask];

		if (b->keylen == len && memcmp(b->key, key, len) == 0)
			return b;
		if (b->keylen == 0) {
			if (!spare || spare->keylen != 0)
				spare = b;
			continue;
		}
		refill(rl, b, now_us);
		if (!spare || (spare->keylen != 0 &&
		               (b->tokens >= rl->burst ||
		                b->last_us < spare->last_us)))
			spare = b;
	}
	memcpy(spare->key, key, len);
	spare->keylen = (uint8_t)len;
	spare->tokens = rl->burst;
	spare->last_us = now_us;
	return spare;
}

unsigned
rate_limit_check(struct rate_limit *rl, const void *key, size_t keylen,
                 bool take, uint64_t now_us)
{
	struct rate_bucket *b;
	unsigned wait = 0;

	if (keylen == 0 || keylen > RATE_KEY_MAX)
		return 0;
	pthread_mutex_lock(&rl->lock);
	if (rl->rate == 0 || !rl->table) {
		pthread_mutex_unlock(&rl->lock);
		return 0;
	}
	b = find(rl, key, keylen, now_us);
	refill(rl, b, now_us);
	if (b->tokens >= 1.0) {
		if (take)
			b->tokens -= 1.0;
	} else {
		double s = (1.0 - b->tokens) * 60.0 / rl->rate;

		/* Whole seconds, rounded up: coming back sooner is refused. */
		wait = (unsigned)s;
		if ((double)wait < s || wait == 0)
			wait++;
	}
	pthread_mutex_unlock(&rl->lock);
	return wait;
}

size_t
rate_key_address(const struct sockaddr *sa, uint8_t key[RATE_KEY_MAX])
{
	int family;
	const uint8_t *a = sockaddr_ip(sa, &family);

	if (!a)
		return 0;
	key[0] = family == AF_INET ? 4 : 6;
	memcpy(key + 1, a, family == AF_INET ? 4 : 8);
	return family == AF_INET ? 5 : 9;
}

size_t
rate_key_client(const char *name, uint8_t key[RATE_KEY_MAX])
{
	size_t n = strnlen(name, RATE_KEY_MAX - 1);

	key[0] = 'c';
	memcpy(key + 1, name, n);
	return n + 1;
}
