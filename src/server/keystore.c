/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/keystore.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "server/keydir.h"

static bool
before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static bool
same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static unsigned
generation(struct keystore *st)
{
	return __atomic_load_n(&st->generation, __ATOMIC_ACQUIRE);
}

static void
stamp_from(const struct stat *sb, const struct timespec *t0,
           struct keyset_stamp *sp)
{
	sp->dev = sb->st_dev;
	sp->ino = sb->st_ino;
	sp->mtime = sb->st_mtim;
	sp->ctime = sb->st_ctim;
	/* File times come from the coarse clock: a change later in the tick
	   the directory was read in would leave them as they are. */
	sp->racy = !before(&sb->st_mtim, t0) || !before(&sb->st_ctim, t0);
}

/* A file skipped last time (empty, half written) that changed since. */
static bool
skipped_changed(struct keystore *st, const struct keyset_skipped *sk)
{
	char path[PATH_MAX];
	struct stat sb;

	if (snprintf(path, sizeof(path), "%s/%s", st->path, sk->name) >=
	    (int)sizeof(path))
		return false;
	if (lstat(path, &sb) < 0)
		return !sk->missing;
	return sk->missing || sb.st_ino != sk->ino || sb.st_size != sk->size ||
	       !same_time(&sb.st_mtim, &sk->mtime) ||
	       !same_time(&sb.st_ctim, &sk->ctime);
}

/*
 * Why ks no longer shows what the directory holds, or NULL when it still
 * does: one stat, and one per file that could not be read as a key.
 */
static const char *
changed(struct keystore *st, const struct keyset *ks)
{
	const struct keyset_stamp *sp = &ks->stamp;
	struct stat sb;

	if (stat(st->path, &sb) < 0) {
		if (!sp->missing)
			return "directory changed";
	} else if (sp->missing || sb.st_dev != sp->dev ||
	           sb.st_ino != sp->ino ||
	           !same_time(&sb.st_mtim, &sp->mtime) ||
	           !same_time(&sb.st_ctim, &sp->ctime)) {
		return "directory changed";
	}
	if (sp->racy)
		return "directory changed";
	if (sp->generation != generation(st))
		return "file changed";
	for (size_t i = 0; i < ks->nskipped; i++)
		if (skipped_changed(st, &ks->skipped[i]))
			return "file changed";
	return NULL;
}

static struct keyset *
current(struct keystore *st)
{
	struct keyset *ks;

	pthread_mutex_lock(&st->lock);
	ks = st->ks ? keyset_ref(st->ks) : NULL;
	pthread_mutex_unlock(&st->lock);
	return ks;
}

static void
install(struct keystore *st, struct keyset *ks)
{
	struct keyset *old;

	pthread_mutex_lock(&st->lock);
	old = st->ks;
	st->ks = ks;
	pthread_mutex_unlock(&st->lock);
	keyset_unref(old);
}

/* A directory with no advertised key gets a pair, as Tang's does. */
static int
create_pair(struct keystore *st, int dirfd)
{
	char thp[JWK_THP_MAX + 1];
	int r = keydir_create(dirfd, thp);

	if (r < 0)
		log_err("%s: no advertised key, and cannot create a pair: %s",
		        st->path, strerror(-r));
	else
		log_msg("%s: created signing key %s and its exchange key",
		        st->path, thp);
	return r;
}

/* A set with no key, stamped: not read again until the directory changes. */
static int
stamped_empty(const struct keyset_stamp *sp, int r, struct keyset **out)
{
	*out = keyset_empty();
	if (!*out)
		return -ENOMEM;
	(*out)->stamp = *sp;
	return r;
}

/*
 * One read of the directory, opened by path as it is now. Returns 0, or
 * -EAGAIN after making a first pair (read it again), or -errno with an
 * empty set in *out (NULL only for -ENOMEM).
 */
static int
read_once(struct keystore *st, unsigned kflags, struct keyset **out)
{
	struct keyset_stamp sp = { .generation = generation(st) };
	struct timespec t0;
	struct stat sb;
	int fd, r;

	*out = NULL;
	clock_gettime(CLOCK_REALTIME_COARSE, &t0);
	fd = open(st->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (stat(st->path, &sb) == 0)
			stamp_from(&sb, &t0, &sp);
		else
			sp.missing = true;
		return stamped_empty(&sp, r, out);
	}
	r = fstat(fd, &sb) < 0 ? -errno : 0;
	if (r == 0) {
		stamp_from(&sb, &t0, &sp);
		r = keydir_check_mode(st->path, sb.st_mode,
		                      kflags & KEYSET_QUIET);
	}
	if (r == 0)
		r = keyset_load(fd, kflags, out);
	/* A pair that cannot be made leaves the rotated keys in service. */
	if (r == 0 && (*out)->nadvertised == 0 && (*out)->nunreadable &&
	    !(kflags & KEYSET_QUIET))
		log_err("%s: %zu advertised key files cannot be read: no new "
		        "pair is made over them; give them to the service user",
		        st->path, (*out)->nunreadable);
	if (r == 0 && (*out)->nadvertised == 0 && !(*out)->nunreadable &&
	    (st->flags & KEYSTORE_CREATE) && create_pair(st, fd) == 0) {
		keyset_unref(*out);
		*out = NULL;
		r = -EAGAIN;
	}
	close(fd);
	if (r == -EAGAIN || r == -ENOMEM)
		return r;
	if (r < 0)
		return stamped_empty(&sp, r, out);
	(*out)->stamp = sp;
	return 0;
}

/* Reads the directory, creating a pair first if it needs one. */
static int
read_directory(struct keystore *st, unsigned kflags, struct keyset **out)
{
	int r = read_once(st, kflags, out);

	if (r == -EAGAIN)
		r = read_once(st, kflags, out);
	if (r == -EAGAIN)
		r = -EIO;	/* the new pair vanished at once */
	return r;
}

/*
 * Reads the directory and puts what it holds in service. A directory that
 * is gone or cannot be read serves no key (nothing recovers) until it
 * changes; only lack of memory keeps the old set.
 */
static void
refresh(struct keystore *st, const struct keyset *old, const char *why)
{
	bool again = old && old->stamp.racy;
	unsigned kflags = st->keyset_flags | (again ? KEYSET_QUIET : 0);
	struct keyset *ks = NULL;
	int r = read_directory(st, kflags, &ks);

	if (!ks)
		return;		/* out of memory: the next request tries again */
	if (r == -ENOENT)
		log_err("%s: no such directory: serving no keys", st->path);
	else if (r < 0)
		log_err("%s: cannot read keys: %s: serving none until it "
		        "changes", st->path, strerror(-r));
	else if ((st->flags & KEYSTORE_LOG_RELOADS) && !again)
		log_msg("reloaded keys (%s): %zu advertised, %zu in all", why,
		        ks->nadvertised, ks->nkeys);
	if (ks->nadvertised > 0 && !ks->adv && !again)
		log_err("%s: no advertised key signs: GET /adv fails until one "
		        "does", st->path);
	install(st, ks);
}

/* What killed writers left, before anything reads the directory. */
static void
remove_temps(struct keystore *st)
{
	int fd = open(st->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat sb;

	if (fd < 0)
		return;
	if (fstat(fd, &sb) == 0 && keydir_check_mode(st->path, sb.st_mode,
	                                             true) == 0)
		keydir_remove_temps(fd, st->path);
	close(fd);
}

int
keystore_open(struct keystore *st, const char *path, unsigned flags,
              unsigned keyset_flags)
{
	struct keyset *ks = NULL;
	int r;

	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->lock, NULL);
	pthread_mutex_init(&st->reload, NULL);
	st->flags = flags;
	st->keyset_flags = keyset_flags;
	st->path = strdup(path);
	if (!st->path)
		return -ENOMEM;
	remove_temps(st);
	r = read_directory(st, keyset_flags, &ks);
	if (r < 0)
		log_err("%s: cannot load keys: %s", path, strerror(-r));
	else if (ks->nadvertised > 0 && !ks->adv)
		log_err("%s: no advertised key signs: GET /adv fails until one "
		        "does", path);
	/* A set, even an empty one, so that requests get answers. */
	if (ks)
		install(st, ks);
	return r;
}

struct keyset *
keystore_get(struct keystore *st)
{
	struct keyset *ks = current(st);
	const char *why;

	if (ks && !changed(st, ks))
		return ks;
	keyset_unref(ks);
	/* One thread reads; the others wait and take what it found. */
	pthread_mutex_lock(&st->reload);
	ks = current(st);
	why = ks ? changed(st, ks) : "not read yet";
	if (why) {
		refresh(st, ks, why);
		keyset_unref(ks);
		ks = current(st);
	}
	pthread_mutex_unlock(&st->reload);
	return ks;
}

void
keystore_changed(struct keystore *st)
{
	__atomic_add_fetch(&st->generation, 1, __ATOMIC_ACQ_REL);
}

void
keystore_reload(struct keystore *st, const char *why)
{
	struct keyset *old;

	pthread_mutex_lock(&st->reload);
	old = current(st);
	refresh(st, NULL, why);
	keyset_unref(old);
	pthread_mutex_unlock(&st->reload);
}

void
keystore_close(struct keystore *st)
{
	install(st, NULL);
	free(st->path);
	st->path = NULL;
	pthread_mutex_destroy(&st->lock);
	pthread_mutex_destroy(&st->reload);
}
