/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_CONFIG_H
#define TETHERD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "server/policy.h"

#define CONFIG_LISTEN_MAX 16
/* A config file is a page of settings; anything larger is a mistake. */
#define CONFIG_FILE_MAX (64 * 1024)

/*
 * What `tetherd serve` runs with: the config file (INI, "name = value",
 * names as the long options, no sections) read first, then the command
 * line on top. A list (listen, listen-open, allow) given on the command
 * line replaces the file's. Strings are owned.
 */
struct serve_config {
	char *config;			/* the file read, or NULL */
	char *keys;
	char *listen[CONFIG_LISTEN_MAX];
	bool open[CONFIG_LISTEN_MAX];	/* listen-open: no authentication */
	size_t nlisten;
	char *tls_cert;
	char *tls_key;
	char *clients;
	char *audit_log;
	char *metrics;			/* the metrics listener's URL, or NULL */
	char *notify;			/* the program run for events, or NULL */
	unsigned notify_timeout;	/* seconds */
	unsigned notify_max;		/* programs at once */
	char *user;			/* to drop to when started as root */
	struct policy_config policy;
	unsigned threads;
	unsigned timeout;
	unsigned request_timeout;
	unsigned connections;
	unsigned connections_per_address;
};

/*
 * Fills c from argv (argv[0] is "serve") and the file --config names.
 * Every problem is logged once, naming the flag or FILE:LINE. Returns 0,
 * 1 when --help was printed, or -EINVAL.
 */
int serve_config_load(int argc, char **argv, struct serve_config *c);

/* Reads only the INI file into c (on top of what c holds). 0 or -EINVAL. */
int serve_config_read_file(const char *path, struct serve_config *c);

/* The same for an open stream, whose name path is for messages. */
int serve_config_read_stream(FILE *f, const char *path, struct serve_config *c);

void serve_config_free(struct serve_config *c);

void serve_usage(FILE *f);

#endif
