/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * tether heartbeat: tells a volume's servers the machine is still at
 * home, so that tetherd goes on serving its recoveries (a client with
 * --heartbeat DURATION is refused once its last heartbeat is older).
 */
#include "client/heartbeat.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/commands.h"
#include "client/pin.h"
#include "client/request.h"
#include "common/log.h"
#include "common/util.h"

#define HEARTBEAT_SUFFIX "/tether/heartbeat"
/* More servers than any binding names: sss nests a few each. */
#define HEARTBEAT_SERVERS_MAX 64
#define WHERE_MAX (URL_HOST_MAX + URL_PATH_MAX + 32)
#define SERVER_KEY_MAX (WHERE_MAX + sizeof(((struct url *)0)->user) + 1)

/* Servers already sent one, as "scheme://host:port/path NAME". */
struct seen {
	char key[HEARTBEAT_SERVERS_MAX][SERVER_KEY_MAX];
	size_t n;
};

/* What a status other than 204 says, in words an operator acts on. */
static const char *
refusal(unsigned status)
{
	switch (status) {
	case 401:
		return "the server does not know this client's name and token";
	case 403:
		return "the client is disabled, not allowed from this address, "
		       "or its presence expired ('tetherd approve NAME' on the "
		       "server lets it back)";
	case 404:
		return "the server takes no heartbeats (not tetherd, or a "
		       "listener without a clients file)";
	case 429:
		return "rate limited: try again later";
	default:
		return "unexpected answer";
	}
}

/* Whether key was met before; remembers it. -ENOSPC past the bound. */
static int
seen_before(struct seen *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->key[i], key) == 0)
			return 1;
	if (s->n == HEARTBEAT_SERVERS_MAX)
		return -ENOSPC;
	snprintf(s->key[s->n++], SERVER_KEY_MAX, "%s", key);
	return 0;
}

enum outcome { BEAT_SKIPPED, BEAT_OK, BEAT_FAILED };

/* One server: its line on standard output, and what came of it. */
static enum outcome
beat(const json_t *cfg, struct seen *s)
{
	char where[WHERE_MAX];
	char key[SERVER_KEY_MAX], name[sizeof(((struct url *)0)->user) * 4];
	unsigned status;
	struct url u;
	int r;

	/* tang_server says why; its url may hold a token not to print. */
	if (tang_server(cfg, &u) < 0) {
		explicit_bzero(&u, sizeof(u));
		return BEAT_FAILED;
	}
	url_format(&u, where, sizeof(where));
	log_escape(name, sizeof(name), u.user, strlen(u.user));
	snprintf(key, sizeof(key), "%s %s", where, u.user);
	r = seen_before(s, key);
	if (r != 0) {
		if (r < 0)
			log_warn("more than %d servers: %s is not sent one",
			         HEARTBEAT_SERVERS_MAX, where);
		explicit_bzero(&u, sizeof(u));
		return r < 0 ? BEAT_FAILED : BEAT_SKIPPED;
	}
	if (!u.user[0]) {
		printf("%s: skipped: the binding has no client credential\n",
		       where);
		return BEAT_SKIPPED;
	}
	r = server_status(&u, "POST", HEARTBEAT_SUFFIX, &status);
	explicit_bzero(&u, sizeof(u));
	if (r < 0) {
		printf("%s (client %s): failed: %s\n", where, name,
		       r == -EKEYREJECTED ? "the server is not trusted" :
		       "no exchange (the cause is on standard error)");
		return BEAT_FAILED;
	}
	if (status == 204 || status == 200) {
		printf("%s (client %s): ok\n", where, name);
		return BEAT_OK;
	}
	printf("%s (client %s): refused (HTTP %u): %s\n", where, name, status,
	       refusal(status));
	return BEAT_FAILED;
}

int
heartbeat_servers(const json_t *configs)
{
	struct seen *s = calloc(1, sizeof(*s));
	size_t i, sent = 0, recorded = 0;
	const json_t *cfg;

	if (!s)
		return -ENOMEM;
	json_array_foreach(configs, i, cfg) {
		switch (beat(cfg, s)) {
		case BEAT_OK: recorded++; sent++; break;
		case BEAT_FAILED: sent++; break;
		case BEAT_SKIPPED: break;
		}
	}
	free(s);
	if (fflush(stdout) != 0)
		return -EIO;
	if (sent == 0) {
		log_err("no server with a client credential: nothing to send "
		        "(presence needs https://NAME:TOKEN@HOST bindings)");
		return -ENOENT;
	}
	return recorded ? 0 : -EACCES;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: tether heartbeat -d DEV\n"
	        "       tether heartbeat URL|CONFIG\n\n"
	        "Tells tetherd the machine is still at home (its presence, "
	        "see tetherd(8)).\n"
	        "  -d DEV  each server the volume's bindings name (sss "
	        "included) that\n"
	        "          has a client credential, with the binding's trust "
	        "anchor\n"
	        "  URL     one server, https://NAME:TOKEN@HOST[:PORT], trusted "
	        "through\n"
	        "          the system CA store\n"
	        "  CONFIG  one server as a tang pin's configuration, with its "
	        "\"pin\" or \"ca\"\n"
	        "Exits 0 when at least one server recorded the heartbeat.\n");
}

/* One server from the command line: a URL, or a tang configuration. */
static int
one_server(const char *arg)
{
	json_t *cfg, *all;
	int r;

	if (arg[0] == '{')
		cfg = json_loads(arg, JSON_REJECT_DUPLICATES, NULL);
	else
		cfg = json_pack("{s:s}", "url", arg);
	if (!json_is_object(cfg)) {
		log_err("heartbeat: CONFIG is not a JSON object");
		json_decref(cfg);
		return -EINVAL;
	}
	all = json_pack("[o]", cfg);
	if (!all)
		return -ENOMEM;
	r = heartbeat_servers(all);
	json_decref(all);
	return r;
}

int
cmd_heartbeat(int argc, char **argv)
{
	char *luks[] = { "luks", "heartbeat", "-d", NULL, NULL };

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	                  strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "-d") == 0) {
		/* Bindings are read where libcryptsetup is: tether-luks. */
		luks[3] = argv[2];
		return cmd_luks(4, luks);
	}
	if (argc == 2 && argv[1][0] != '-')
		return one_server(argv[1]) < 0 ? 1 : 0;
	usage(stderr);
	return 2;
}
