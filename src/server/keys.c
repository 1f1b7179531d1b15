/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "server/commands.h"
#include "server/config.h"
#include "server/keydir.h"
#include "server/keyset.h"

static void
keys_usage(FILE *f)
{
	fprintf(f,
	        "usage: tetherd keys list --keys DIR | --config FILE\n"
	        "       tetherd keys create --keys DIR | --config FILE\n"
	        "       tetherd keys rotate --keys DIR | --config FILE\n"
	        "\n"
	        "  -k, --keys DIR     the keys directory\n"
	        "  -c, --config FILE  take the keys directory from tetherd.conf;\n"
	        "                     --keys wins\n"
	        "\n"
	        "  list    print the SHA-256 thumbprint of each advertised signing\n"
	        "          key: what clients are asked to trust (tang-show-keys);\n"
	        "          one whose file others can read is marked: rotate it\n"
	        "  create  add a new signing and exchange key pair\n"
	        "  rotate  add a new pair and stop advertising the old keys; they\n"
	        "          still answer recoveries for existing bindings\n");
}

static int
keys_list(int dirfd, const char *path)
{
	struct keyset *ks;
	int r = keyset_load(dirfd, 0, &ks);

	if (r < 0) {
		log_err("%s: %s", path, strerror(-r));
		return 1;
	}
	if (!ks->adv) {
		log_err("%s: no advertised signing key", path);
		keyset_unref(ks);
		return 1;
	}
	for (size_t i = 0; i < ks->nkeys; i++)
		if (ks->keys[i].advertised && ks->keys[i].signs)
			printf("%s%s\n", ks->keys[i].thp[JWK_THP_DEFAULT],
			       ks->keys[i].exposed ?
			       " (file readable by others: rotate)" : "");
	if (ks->nexposed)
		log_warn("%s: %zu key file%s readable by others: chmod o-rwx "
		         "and rotate (tetherd keys rotate)", path, ks->nexposed,
		         ks->nexposed == 1 ? " is" : "s are");
	keyset_unref(ks);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int
keys_change(int dirfd, const char *path, bool rotate)
{
	char thp[JWK_THP_MAX + 1];
	int r = rotate ? keydir_rotate(dirfd, thp) : keydir_create(dirfd, thp);

	if (r < 0) {
		log_err("%s: cannot %s keys: %s", path,
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
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *config = NULL, *verb;
	struct serve_config file = { 0 };
	int c, dirfd, status;

	if (argc < 2 || argv[1][0] == '-') {
		keys_usage(argc > 1 && strcmp(argv[1], "--help") == 0 ?
		           stdout : stderr);
		return argc > 1 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	verb = argv[1];
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "+k:c:h", longopts,
	                        NULL)) != -1) {
		switch (c) {
		case 'k':
			path = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'h':
			keys_usage(stdout);
			return 0;
		default:
			keys_usage(stderr);
			return 2;
		}
	}
	if ((!path && !config) || optind < argc - 1) {
		keys_usage(stderr);
		return 2;
	}
	if (strcmp(verb, "list") != 0 && strcmp(verb, "create") != 0 &&
	    strcmp(verb, "rotate") != 0) {
		log_err("keys: unknown command '%s'", verb);
		return 2;
	}
	if (!path) {
		if (serve_config_read_file(config, &file) < 0) {
			serve_config_free(&file);
			return 2;
		}
		path = file.keys;
		if (!path) {
			log_err("%s: names no keys directory: give --keys DIR",
			        config);
			serve_config_free(&file);
			return 2;
		}
	}
	dirfd = keydir_open(path);
	if (dirfd < 0) {
		serve_config_free(&file);
		return 1;
	}
	if (strcmp(verb, "list") == 0)
		status = keys_list(dirfd, path);
	else
		status = keys_change(dirfd, path, strcmp(verb, "rotate") == 0);
	close(dirfd);
	serve_config_free(&file);
	return status;
}
