/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "server/approvals.h"
#include "server/clients.h"
#include "server/commands.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "serve", cmd_serve, "serve Tang's endpoints from a keys directory" },
	{ "keys", cmd_keys, "list, create or rotate keys" },
	{ "clients", cmd_clients, "add, list, set, enable, disable or remove "
	  "clients" },
	{ "approvals", cmd_approvals, "list recoveries waiting for approval" },
	{ "approve", cmd_approve, "approve a client's recoveries" },
	{ "deny", cmd_deny, "refuse a client's recoveries" },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: tetherd COMMAND [ARGS]\n"
	        "       tetherd KEYSDIR   (as tangd: one connection on stdin and "
	        "stdout)\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'tetherd COMMAND --help' describes each command.\n");
}

int
main(int argc, char **argv)
{
	log_init("tetherd");
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("tetherd %s\n", TETHER_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	/* tangd's usage, "tangd <jwkdir>": one connection on stdin/stdout. */
	if (argc == 2 && argv[1][0] != '-')
		return cmd_standin(argv[1]);
	log_err("unknown command '%s'", argv[1]);
	usage(stderr);
	return 2;
}
