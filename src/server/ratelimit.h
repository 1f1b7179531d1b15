/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_RATELIMIT_H
#define TETHERD_RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Token buckets, one per key (an address or a client name) in a table of
 * fixed size: each key may spend `burst` tokens at once, refilled at `rate`
 * tokens per minute. A key not seen for long enough to refill is the same
 * as a fresh one, so the table forgets it first; when every slot a key
 * may use is busy, the one touched longest ago is taken over. Memory is
 * bounded whatever the number of addresses.
 */
#define RATE_KEY_MAX 66
#define RATE_PROBES 8

struct rate_bucket {
	uint8_t key[RATE_KEY_MAX];
	uint8_t keylen;		/* 0: free */
	double tokens;
	uint64_t last_us;
};

struct rate_limit {
	pthread_mutex_t lock;
	unsigned rate;		/* per minute; 0: no limit */
	unsigned burst;
	struct rate_bucket *table;
	size_t size;		/* a power of two, allocated once rate > 0 */
	uint64_t seed;
};

/* 0 or -ENOMEM; size is rounded up to a power of two. rate 0 turns the
   limit off (and allocates nothing). */
int rate_limit_init(struct rate_limit *rl, unsigned rate, unsigned burst,
                    size_t size);
void rate_limit_free(struct rate_limit *rl);

/* New rate and burst for the buckets there are, which keep their tokens
   (never more than the burst): a reload must not forgive a peer. The
   table is allocated the first time rate is not 0. 0 or -ENOMEM, when
   nothing changed. */
int rate_limit_set(struct rate_limit *rl, unsigned rate, unsigned burst);

/*
 * Takes one token for the key (take) or only looks (!take). Returns 0
 * when a token was there, else the whole seconds until one will be (at
 * least 1), for Retry-After.
 */
unsigned rate_limit_check(struct rate_limit *rl, const void *key,
                          size_t keylen, bool take, uint64_t now_us);

/* The key for an address: IPv4 whole, IPv6 by its /64 (one host's share
   of a link), IPv4-mapped IPv6 as IPv4. Returns its length, 0 if none. */
size_t rate_key_address(const struct sockaddr *sa, uint8_t key[RATE_KEY_MAX]);

/* The key for a client name. Returns its length. */
size_t rate_key_client(const char *name, uint8_t key[RATE_KEY_MAX]);

#endif
