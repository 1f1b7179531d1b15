/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/keydir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

int
keydir_check_mode(const char *path, mode_t mode, bool quiet)
{
	if (!(mode & S_IWOTH))
		return 0;
	if (!quiet)
		log_err("%s: every user may write to it (mode %04o), so anyone "
		        "could add a key: refusing its keys: chmod o-w %s", path,
		        (unsigned)(mode & 07777), path);
	return -EPERM;
}

int
keydir_open(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	int r;

	if (fd < 0) {
		r = -errno;
		log_err("%s: %s", path, strerror(-r));
		return r;
	}
	r = fstat(fd, &st) < 0 ? -errno : keydir_check_mode(path, st.st_mode,
	                                                     false);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static int
write_new_key(int dirfd, const char *alg, char thp[JWK_THP_MAX + 1])
{
	char name[JWK_THP_MAX + 8];
	json_t *jwk = jwk_generate(alg);
	char *text = NULL;
	int r = -ENOMEM;

	if (!jwk)
		return -ENOMEM;
	r = jwk_thumbprint(jwk, JWK_THP_DEFAULT, thp);
	if (r < 0)
		goto out;
	text = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text) {
		r = -ENOMEM;
		goto out;
	}
	snprintf(name, sizeof(name), "%s.jwk", thp);
	r = write_file_at(dirfd, name, text, strlen(text), 0600);
out:
	free_secret_str(text);
	jwk_free_secret(jwk);
	return r;
}

static int
create_pair(int dirfd, char sig[JWK_THP_MAX + 1], char exc[JWK_THP_MAX + 1])
{
	int r = write_new_key(dirfd, "ES512", sig);

	return r < 0 ? r : write_new_key(dirfd, "ECMR", exc);
}

int
keydir_create(int dirfd, char sig_thp[JWK_THP_MAX + 1])
{
	char sig[JWK_THP_MAX + 1], exc[JWK_THP_MAX + 1];
	int r = create_pair(dirfd, sig, exc);

	if (r == 0 && sig_thp)
		memcpy(sig_thp, sig, sizeof(sig));
	return r;
}

static bool
is_advertised_key(const char *name, const char *keep1, const char *keep2)
{
	size_t n = strlen(name);

	return n > 4 && name[0] != '.' && strcmp(name + n - 4, ".jwk") == 0 &&
	       strcmp(name, keep1) != 0 && strcmp(name, keep2) != 0;
}

static int
hide_key(int dirfd, const char *name)
{
	char hidden[NAME_MAX + 2];

	if (snprintf(hidden, sizeof(hidden), ".%s", name) >= (int)sizeof(hidden))
		return -ENAMETOOLONG;
	if (renameat2(dirfd, name, dirfd, hidden, RENAME_NOREPLACE) < 0)
		return -errno;
	return 0;
}

/* A listing of dirfd's entries that leaves dirfd's own offset alone;
   NULL with errno set. */
static DIR *
list_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir;

	if (fd < 0)
		return NULL;
	dir = fdopendir(fd);
	if (!dir) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return dir;
}

/* Hides the advertised keys other than the two just made. */
static int
hide_keys_except(int dirfd, const char *sig, const char *exc)
{
	char keep1[JWK_THP_MAX + 8], keep2[JWK_THP_MAX + 8];
	struct dirent *d;
	DIR *dir;
	int r = 0;

	snprintf(keep1, sizeof(keep1), "%s.jwk", sig);
	snprintf(keep2, sizeof(keep2), "%s.jwk", exc);
	dir = list_dir(dirfd);
	if (!dir)
		return -errno;
	while (r == 0 && (d = readdir(dir)))
		if (is_advertised_key(d->d_name, keep1, keep2))
			r = hide_key(dirfd, d->d_name);
	closedir(dir);
	if (r == 0 && fsync(dirfd) < 0)
		r = -errno;
	return r;
}

int
keydir_rotate(int dirfd, char sig_thp[JWK_THP_MAX + 1])
{
	char sig[JWK_THP_MAX + 1], exc[JWK_THP_MAX + 1];
	int r;

	r = create_pair(dirfd, sig, exc);
	if (r == 0)
		r = hide_keys_except(dirfd, sig, exc);
	if (r == 0 && sig_thp)
		memcpy(sig_thp, sig, sizeof(sig));
	return r;
}

/* The temporary file name, as open at fd, if it is one to remove. */
static bool
stale_temp(int dirfd, const char *path, const char *name, int fd,
           uid_t dir_owner)
{
	struct stat st, now;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	if (st.st_uid != dir_owner && st.st_uid != geteuid()) {
		log_warn("%s/%s: owned by uid %u, not by the directory's owner: "
		         "left as it is", path, name, (unsigned)st.st_uid);
		return false;
	}
	/* Its writer holds a lock until it renames it. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return false;
	/* Still the file checked, under that name. */
	return fstatat(dirfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
	       now.st_dev == st.st_dev && now.st_ino == st.st_ino;
}

static void
remove_temp(int dirfd, const char *path, const char *name, uid_t dir_owner)
{
	struct stat st;
	int fd;

	/* Only regular files are opened: a device could act on an open. */
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode))
		return;
	fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW |
	            O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (stale_temp(dirfd, path, name, fd, dir_owner)) {
		if (unlinkat(dirfd, name, 0) == 0)
			log_msg("%s/%s: removed: a key file an interrupted "
			        "write left", path, name);
		else
			log_warn("%s/%s: left by an interrupted write, and "
			         "cannot be removed: %s", path, name,
			         strerror(errno));
	}
	close(fd);
}

int
keydir_remove_temps(int dirfd, const char *path)
{
	struct dirent *d;
	struct stat st;
	DIR *dir;

	if (fstat(dirfd, &st) < 0)
		return -errno;
	dir = list_dir(dirfd);
	if (!dir)
		return -errno;
	while ((d = readdir(dir)))
		if (is_temp_file_name(d->d_name))
			remove_temp(dirfd, path, d->d_name, st.st_uid);
	closedir(dir);
	return 0;
}
