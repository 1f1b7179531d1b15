/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_KEYSTORE_H
#define TETHERD_KEYSTORE_H

#include <pthread.h>
#include <stdbool.h>

#include "server/keyset.h"

/* keystore_open flags. */
enum {
	/* A directory with no advertised key gets a new pair, as Tang's. */
	KEYSTORE_CREATE = 1 << 0,
	/* Say in the log when the keys were read again, and why. */
	KEYSTORE_LOG_RELOADS = 1 << 1,
};

/*
 * The keys directory as requests see it: what the directory holds now.
 * Every request compares the directory (device, inode, modification and
 * change times in ns) with what the set in use was read from, and reads
 * it again first when they differ, so that a change is served as soon as
 * the command that made it returns: a new key is advertised, a deleted one
 * recovers nothing, a replaced or emptied directory gets new keys. A change
 * made in the same clock tick as the last read cannot be told from it by
 * its times, so such a read is done again at the next request. Changes to
 * a file's content or mode alone are reported by keystore_changed.
 */
struct keystore {
	pthread_mutex_t lock;		/* guards ks */
	pthread_mutex_t reload;		/* one reader of the directory */
	struct keyset *ks;
	char *path;
	unsigned flags;
	unsigned keyset_flags;		/* for keyset_load */
	unsigned generation;		/* atomic: bumped by keystore_changed */
};

/*
 * Reads the directory at path (creating a first pair with KEYSTORE_CREATE).
 * Logs what fails; returns 0 or -errno.
 */
int keystore_open(struct keystore *st, const char *path, unsigned flags,
                  unsigned keyset_flags);

/* A reference to the set the directory holds now; NULL only when out of
   memory. Safe from any thread. */
struct keyset *keystore_get(struct keystore *st);

/* Something in the directory changed that its times may not show. */
void keystore_changed(struct keystore *st);

/* Reads the directory again now, whatever its times say (SIGHUP). */
void keystore_reload(struct keystore *st, const char *why);

void keystore_close(struct keystore *st);

#endif
