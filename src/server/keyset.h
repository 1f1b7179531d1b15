/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_KEYSET_H
#define TETHERD_KEYSET_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/ecmr.h"
#include "common/jwk.h"

/* A keys directory holds at most this many keys, and no larger files. */
#define KEYSET_MAX_KEYS 4096
#define KEYSET_MAX_FILE (64 * 1024)

struct key {
	char name[256];			/* file name in the keys directory */
	char thp[JWK_THP_COUNT][JWK_THP_MAX + 1];
	bool advertised;		/* *.jwk, not .*.jwk */
	bool signs;			/* may sign advertisements */
	bool derives;			/* may answer recoveries */
	struct ecmr_key *exchange;	/* NULL when derives is false or the
					   key is not a supported EC key */
	char *adv;			/* signs: the advertisement also signed
					   by this key, for GET /adv/{kid} */
	size_t adv_len;
};

/*
 * Everything a request needs, computed once per key set: thumbprints in all
 * hashes, signed advertisements, exchange scalars. Immutable once loaded and
 * shared by reference between threads.
 */
struct keyset {
	unsigned refs;			/* atomic */
	struct key *keys;
	size_t nkeys;
	size_t nadvertised;
	char *adv;			/* GET /adv */
	size_t adv_len;
};

/*
 * Loads every *.jwk file of the directory dirfd (rotated ones start with a
 * dot), skipping, with a log line, files that are not valid JWKs. Returns 0,
 * -ENOENT when no key is advertised at all (a new directory), -ENOKEY when
 * keys are advertised but none of them signs, or another -errno.
 */
int keyset_load(int dirfd, struct keyset **out);

/* Finds the key whose thumbprint, in any supported hash, is kid. */
const struct key *keyset_find(const struct keyset *ks, const char *kid);

struct keyset *keyset_ref(struct keyset *ks);

/* Drops a reference; the last one wipes and frees. Accepts NULL. */
void keyset_unref(struct keyset *ks);

/* The key set requests use now, replaced whole on reload. */
struct keyset_slot {
	pthread_mutex_t lock;
	struct keyset *ks;
};

/* Returns a reference to the current key set; never NULL once set. */
struct keyset *keyset_slot_get(struct keyset_slot *slot);

/* Installs ks (taking over the caller's reference) and drops the old one. */
void keyset_slot_set(struct keyset_slot *slot, struct keyset *ks);

#endif
