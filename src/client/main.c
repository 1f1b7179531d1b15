/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ASan builds (GCC says so one way, clang another) still check leaks. */
#if defined(__SANITIZE_ADDRESS__)
#define LEAK_CHECK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LEAK_CHECK 1
#endif
#endif
#ifdef LEAK_CHECK
#include <sanitizer/lsan_interface.h>
#endif

#include "client/adv.h"
#include "client/commands.h"
#include "common/log.h"
#include "common/util.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "encrypt", cmd_encrypt, "bind a secret to a pin: a server, a TPM, a threshold" },
	{ "decrypt", cmd_decrypt, "recover a secret bound by tether or clevis" },
	{ "adv", cmd_adv, "fetch, verify and show a server's keys" },
	{ "heartbeat", cmd_heartbeat, "tell tetherd this machine is still at home" },
	{ "luks", cmd_luks, "LUKS bindings: bind, unbind, list, pass, trust, unlock, edit, regen, report, heartbeat" },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: tether COMMAND [ARGS]\n\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'tether help COMMAND' or 'tether COMMAND --help' "
	        "describes each command.\n"
	        "TETHER_CONNECT_TIMEOUT and TETHER_TIMEOUT (seconds) bound each "
	        "server\nexchange (defaults 5 and 15).\n");
}

static int
run(int argc, char **argv)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			return commands[i].run(argc, argv);
	log_err("unknown command '%s'", argv[0]);
	usage(stderr);
	return 2;
}

/*
 * 'tether help' is 'tether --help'; 'tether help COMMAND [SUB...]' is
 * 'tether COMMAND [SUB...] --help'.
 */
static int
help(int argc, char **argv)
{
	char *args[8];

	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	if ((size_t)argc > ARRAY_SIZE(args) - 1) {
		usage(stderr);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		args[i - 1] = argv[i];
	args[argc - 1] = "--help";
	args[argc] = NULL;
	return run(argc, args);
}

/*
 * sss returns once enough shares are back while slower share threads
 * finish on their own, inside OpenSSL. OpenSSL registers an exit-time
 * clean-up when it first initialises itself, which would free the state
 * those threads use: so a command ends with its output flushed and no
 * exit handlers run.
 */
static void __attribute__((noreturn))
leave(int status)
{
	if (fflush(NULL) != 0 && status == 0)
		status = 1;
#ifdef LEAK_CHECK
	__lsan_do_leak_check();
#endif
	_exit(status);
}

int
main(int argc, char **argv)
{
	log_init("tether");
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0)
		return help(argc - 1, argv + 1);
	if (strcmp(argv[1], "--version") == 0) {
		printf("tether %s\n", TETHER_VERSION);
		return 0;
	}
	leave(run(argc - 1, argv + 1));
}
