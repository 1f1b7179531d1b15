/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_PRIVILEGE_H
#define TETHERD_PRIVILEGE_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * tetherd never serves as root. Started as root, it binds its sockets and
 * opens its files, gives the files root owns to the service user (so that
 * reloads work once it is that user), then drops to it for good. Each
 * function returns 0 or a negative errno and logs nothing but what it
 * refuses, naming the fix.
 */
struct service_user {
	const char *name;
	uid_t uid;
	gid_t gid;
};

/* The user to run as: -ENOENT for no such user, -EPERM for root. */
int privilege_lookup(const char *name, struct service_user *u);

/* Refuses (-EPERM) a keys directory another user than root or u owns. */
int privilege_check_dir(int dirfd, const char *path,
                        const struct service_user *u);

/*
 * Gives the keys directory, and the key files in it, that root owns to
 * the user; refuses (-EPERM) a directory another user owns.
 */
int privilege_adopt_dir(int dirfd, const char *path,
                        const struct service_user *u);

/*
 * Gives a file root owns to the user. A missing file or a symbolic link
 * is left as it is; one with other names (hard links) refuses (-EPERM).
 */
int privilege_adopt_file(const char *path, const struct service_user *u);

/* Refuses (-EACCES, logged) a file u could not open for reading once
   root is given up; a missing file is fine. */
int privilege_check_readable(const char *path, const struct service_user *u);

/* setgroups, setgid, setuid, then checks root cannot be regained;
   sets no_new_privs. */
int privilege_drop(const struct service_user *u);

/* Sets no_new_privs and installs the system call allow-list for every
   thread of the process. */
int sandbox_enter(void);

#endif
