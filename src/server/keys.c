/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "server/commands.h"
#include "server/keydir.h"
#include "server/keyset.h"

static void
keys_usage(FILE *f)
{
	fprintf(f,
	        "usage: tetherd keys list --keys DIR\n"
	        "       tetherd keys create --keys DIR\n"
	        "       tetherd keys rotate --keys DIR\n"
	        "\n"
	        "  list    print the SHA-256 thumbprint of each advertised signing\n"
	        "          key: what clients are asked to trust (tang-show-keys)\n"
	        "  create  add a new signing and exchange key pair\n"
	        "  rotate  add a new pair and stop advertising the old keys; they\n"
	        "          still answer recoveries for existing bindings\n");
}

static int
keys_list(int dirfd, const char *path)
{
	struct keyset *ks;
	int r = keyset_load(dirfd, &ks);

	if (r == -ENOENT || r == -ENOKEY) {
		log_msg("%s: no advertised signing key", path);
		return 1;
	}
	if (r < 0) {
		log_msg("%s: %s", path, strerror(-r));
		return 1;
	}
	for (size_t i = 0; i < ks->nkeys; i++)
		if (ks->keys[i].advertised && ks->keys[i].signs)
			printf("%s\n", ks->keys[i].thp[JWK_THP_DEFAULT]);
	keyset_unref(ks);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int
keys_change(int dirfd, const char *path, bool rotate)
{
	char thp[JWK_THP_MAX + 1];
	int r = rotate ? keydir_rotate(dirfd, thp) : keydir_create(dirfd, thp);

	if (r < 0) {
		log_msg("%s: cannot %s keys: %s", path,
		        rotate ? "rotate" : "create", strerror(-r));
		return 1;
	}
	printf("%s\n", thp);
	return fflush(stdout) == 0 ? 0 : 1;
}

int
cmd_keys(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "keys", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *verb;
	int c, dirfd, status;

	if (argc < 2 || argv[1][0] == '-') {
		keys_usage(argc > 1 && strcmp(argv[1], "--help") == 0 ?
		           stdout : stderr);
		return argc > 1 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	verb = argv[1];
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "+k:h", longopts,
	                        NULL)) != -1) {
		switch (c) {
		case 'k':
			path = optarg;
			break;
		case 'h':
			keys_usage(stdout);
			return 0;
		default:
			keys_usage(stderr);
			return 2;
		}
	}
	if (!path || optind < argc - 1) {
		keys_usage(stderr);
		return 2;
	}
	if (strcmp(verb, "list") != 0 && strcmp(verb, "create") != 0 &&
	    strcmp(verb, "rotate") != 0) {
		log_msg("keys: unknown command '%s'", verb);
		return 2;
	}
	dirfd = keydir_open(path);
	if (dirfd < 0)
		return 1;
	if (strcmp(verb, "list") == 0)
		status = keys_list(dirfd, path);
	else
		status = keys_change(dirfd, path, strcmp(verb, "rotate") == 0);
	close(dirfd);
	return status;
}
