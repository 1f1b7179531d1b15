/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_KEYSET_H
#define TETHERD_KEYSET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "common/ecmr.h"
#include "common/jwk.h"

/* A keys directory holds at most this many keys (years of daily
   rotations), and no larger files. */
#define KEYSET_MAX_KEYS 16384
#define KEYSET_MAX_FILE (64 * 1024)
#define KEYSET_MAX_FILE_TEXT "64 KiB"

/* Skipped files watched for a change that may make them keys. */
#define KEYSET_MAX_SKIPPED 16

/* keyset_load flags. */
enum {
	/* Takes the "other" bits off a key file readable by others (only
	   root may, on files it does not own). */
	KEYSET_TIGHTEN = 1 << 0,
	/* Loads without logging, for a caller that says more itself. */
	KEYSET_QUIET = 1 << 1,
};

/* A signed advertisement, made once and never changed. */
struct keyset_text {
	size_t len;
	char text[];
};

/* What the directory looked like when a set was read from it. */
struct keyset_stamp {
	dev_t dev;
	ino_t ino;
	struct timespec mtime, ctime;
	unsigned generation;		/* of the loader's change counter */
	bool racy;			/* changed in the clock tick it was read:
					   a later change may look the same */
	bool missing;			/* no directory there */
};

/* A key file that could not be read as a key (yet: it may be being
   written), as it was. */
struct keyset_skipped {
	char name[256];
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	bool missing;
};

struct key {
	char name[256];			/* file name in the keys directory */
	char thp[JWK_THP_COUNT][JWK_THP_MAX + 1];
	bool advertised;		/* *.jwk, not .*.jwk */
	bool signs;			/* may sign advertisements */
	bool derives;			/* may answer recoveries */
	bool exposed;			/* the file is readable by others */
	struct ecmr_key *exchange;	/* NULL when derives is false or the
					   key is not a supported EC key */
	json_t *jwk;			/* the private JWK of a key that may
					   sign GET /adv/{kid}; else NULL */
	struct keyset_text *adv;	/* that advertisement, signed on first
					   use (atomic): keyset_key_adv */
};

/*
 * Everything a request needs: thumbprints in all hashes, the default
 * advertisement, exchange scalars. The advertisement a GET /adv/{kid}
 * asks for is signed when first asked for and kept, so that loading costs
 * about what reading the files does, however many keys there are. Shared
 * by reference between threads; nothing else changes once loaded.
 */
struct keyset {
	unsigned refs;			/* atomic */
	struct key *keys;
	size_t nkeys;
	size_t nadvertised;
	size_t nexposed;		/* key files readable by others */
	size_t nunreadable;		/* advertised key files that could not
					   be read (owner, mode, symbolic
					   links): not an empty directory, so
					   no new pair */
	char *adv;			/* GET /adv; NULL when no advertised
					   key signs */
	size_t adv_len;
	json_t *payload;		/* {"keys": [public advertised keys]} */
	json_t *signers;		/* advertised signing keys (private) */
	unsigned signatures;		/* advertisements signed (atomic) */
	struct keyset_stamp stamp;	/* the directory as it was loaded */
	struct keyset_skipped skipped[KEYSET_MAX_SKIPPED];
	size_t nskipped;
};

/*
 * Loads every *.jwk file of the directory dirfd (rotated ones start with a
 * dot), skipping, with a log line naming the file and why, files that are
 * not private EC keys (P-256, P-384, P-521) for ECMR or ECDSA, and
 * anything but regular files (FIFOs, links). A key
 * file readable by others is served, with a warning naming it (and made
 * private with KEYSET_TIGHTEN). Returns 0 or -errno; ks->nadvertised is 0
 * when no key is advertised at all (a new directory), and ks->adv is NULL
 * then and when keys are advertised but none of them signs.
 */
int keyset_load(int dirfd, unsigned flags, struct keyset **out);

/* A set with no key at all: what a missing directory serves. */
struct keyset *keyset_empty(void);

/* Finds the key whose thumbprint, in any supported hash, is kid. */
const struct key *keyset_find(const struct keyset *ks, const char *kid);

/*
 * The advertisement GET /adv/{kid} answers for key: the advertised keys
 * signed by every advertised signer and by key. Signed on first use, then
 * kept as long as ks. Returns 0, -ENOENT when key may not sign, -ENOKEY
 * when the set has no advertisement, or -ENOMEM.
 */
int keyset_key_adv(struct keyset *ks, const struct key *key,
                   const struct keyset_text **out);

struct keyset *keyset_ref(struct keyset *ks);

/* Drops a reference; the last one wipes and frees. Accepts NULL. */
void keyset_unref(struct keyset *ks);

#endif
