/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `tether luks ...` in the tether that links no libcryptsetup: runs
 * tether-luks, the same commands with the LUKS ones built in. Loading
 * libcryptsetup and its libraries costs every other command more than its
 * whole recovery, so only the LUKS commands pay it.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/commands.h"
#include "common/log.h"

#define LUKS_HELPER "tether-luks"

/*
 * The helper beside this executable (a build tree; an initramfs may put
 * it there too), else the installed one. Whoever can write beside tether
 * can replace tether itself, so looking there first trusts no one new.
 */
static int
helper_path(char path[PATH_MAX])
{
	ssize_t n = readlink("/proc/self/exe", path, PATH_MAX - 1);
	char *slash;

	if (n > 0) {
		path[n] = '\0';
		slash = strrchr(path, '/');
		if (slash && (size_t)(slash + 1 - path) + sizeof(LUKS_HELPER) <=
		                     PATH_MAX) {
			memcpy(slash + 1, LUKS_HELPER, sizeof(LUKS_HELPER));
			if (access(path, X_OK) == 0)
				return 0;
		}
	}
	if (strlen(TETHER_LUKS_PATH) >= PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(path, TETHER_LUKS_PATH, sizeof(TETHER_LUKS_PATH));
	return 0;
}

int
cmd_luks(int argc, char **argv)
{
	char path[PATH_MAX], **args;

	if (helper_path(path) < 0) {
		log_err("luks: the path of %s is too long", LUKS_HELPER);
		return 1;
	}
	/* The helper is a whole tether: it gets "luks" and what follows. */
	args = calloc((size_t)argc + 2, sizeof(*args));
	if (!args) {
		log_err("luks: out of memory");
		return 1;
	}
	args[0] = path;
	for (int i = 0; i < argc; i++)
		args[i + 1] = argv[i];
	execv(path, args);
	log_err("luks: cannot run %s: %s", path, strerror(errno));
	free(args);
	return 1;
}
