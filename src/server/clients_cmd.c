/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tetherd clients add|list|enable|disable|remove NAME --clients FILE */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <jose/b64.h>

#include "common/log.h"
#include "common/util.h"
#include "server/approvals.h"
#include "server/clients.h"
#include "server/config.h"

#define TOKEN_BYTES 32

static void
clients_usage(FILE *f)
{
	fprintf(f,
	        "usage: tetherd clients add NAME [--allow CIDR[,CIDR]]... "
	        "[--approval manual|auto]\n"
	        "                           [--heartbeat DURATION|off] --clients FILE\n"
	        "       tetherd clients set NAME [--approval manual|auto] "
	        "[--heartbeat DURATION|off]\n"
	        "                           --clients FILE\n"
	        "       tetherd clients list --clients FILE\n"
	        "       tetherd clients enable|disable|remove NAME --clients FILE\n"
	        "\n"
	        "--config FILE takes the clients file from tetherd.conf instead;\n"
	        "--clients wins.\n"
	        "\n"
	        "add prints the client's token once; the file keeps only its\n"
	        "SHA-256. Changes take effect at the next request, no signal.\n"
	        "--approval manual holds the client's recoveries until an\n"
	        "operator approves them (tetherd approve). --heartbeat DURATION\n"
	        "(N followed by s, m, h, d or w) refuses them once the client's\n"
	        "last heartbeat is older than that, until an operator approves it.\n"
	        "Clients send NAME and the token with HTTP Basic, e.g. clevis\n"
	        "with the url https://NAME:TOKEN@HOST.\n");
}

/* Loads the file (none yet is an empty list) and opens its directory. */
static int
load(const char *path, struct client_list *l, int *dirfd, char **base)
{
	char *copy = strdup(path), *copy2 = strdup(path);
	char *text = NULL;
	size_t len, line;
	int r;

	if (!copy || !copy2) {
		free(copy);
		free(copy2);
		return -ENOMEM;
	}
	*dirfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	*base = strdup(basename(copy2));
	free(copy);
	free(copy2);
	if (*dirfd < 0 || !*base) {
		r = *dirfd < 0 ? -errno : -ENOMEM;
		log_err("%s: %s", path, strerror(-r));
		return r;
	}
	r = read_file_at(*dirfd, *base, 64 * 1024 * 1024, &text, &len);
	if (r == -ENOENT) {
		*l = (struct client_list){ 0 };
		return 0;
	}
	if (r < 0) {
		log_err("%s: %s", path, strerror(-r));
		return r;
	}
	r = clients_parse(text, len, l, &line);
	free(text);
	if (r < 0)
		log_err("%s: line %zu is malformed", path, line);
	return r;
}

static int
save(int dirfd, const char *base, const char *path,
     const struct client_list *l)
{
	char *text = clients_format(l);
	int r = text ? replace_file_at(dirfd, base, text, strlen(text), 0600)
	             : -ENOMEM;

	if (r < 0)
		log_err("%s: cannot write: %s", path, strerror(-r));
	free(text);
	return r;
}

static int
new_token(char *out, size_t cap)
{
	unsigned char raw[TOKEN_BYTES];
	size_t n;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -EIO;
	n = jose_b64_enc_buf(raw, sizeof(raw), out, cap - 1);
	explicit_bzero(raw, sizeof(raw));
	if (n == SIZE_MAX)
		return -EINVAL;
	out[n] = '\0';
	return 0;
}

/* What add and set change: -1 for what was not given. */
struct rules_change {
	int approval;		/* 1 manual, 0 automatic */
	long long heartbeat;	/* seconds, 0 for none */
};

static void
apply_rules(struct client *c, const struct rules_change *ch)
{
	if (ch->approval >= 0)
		c->approval = ch->approval == 1;
	if (ch->heartbeat >= 0)
		c->heartbeat = (unsigned long)ch->heartbeat;
}

static int
client_add(struct client_list *l, const char *name, const char *allow,
           const struct rules_change *ch)
{
	char token[64];
	struct client *grown;
	int r;

	if (clients_find(l, name)) {
		log_err("clients: '%s' exists", name);
		return -EEXIST;
	}
	if (l->n == CLIENTS_MAX)
		return -ENOSPC;
	grown = realloc(l->c, (l->n + 1) * sizeof(*l->c));
	if (!grown)
		return -ENOMEM;
	l->c = grown;
	memset(&l->c[l->n], 0, sizeof(l->c[l->n]));
	snprintf(l->c[l->n].name, sizeof(l->c[l->n].name), "%s", name);
	l->c[l->n].enabled = true;
	apply_rules(&l->c[l->n], ch);
	if (allow && client_allow_parse(&l->c[l->n], allow) < 0) {
		log_err("clients: --allow %s: expected ADDRESS[/LENGTH] blocks, "
		        "IPv4 or IPv6, no host bits, at most %d", allow,
		        CLIENT_ALLOW_MAX);
		return -EINVAL;
	}
	r = new_token(token, sizeof(token));
	if (r == 0)
		r = client_token_hash(token, strlen(token), l->c[l->n].hash);
	if (r < 0)
		return r;
	l->n++;
	/* The token is shown once, before it is stored, and never again. */
	printf("%s\n", token);
	explicit_bzero(token, sizeof(token));
	return fflush(stdout) == 0 ? 0 : -EIO;
}

static int
client_change(struct client_list *l, const char *what, const char *name,
              const struct rules_change *ch)
{
	struct client *c = clients_find(l, name);

	if (!c) {
		log_err("clients: no client '%s'", name);
		return -ENOENT;
	}
	if (strcmp(what, "remove") == 0) {
		*c = l->c[l->n - 1];
		l->n--;
	} else if (strcmp(what, "set") == 0) {
		apply_rules(c, ch);
	} else {
		c->enabled = strcmp(what, "enable") == 0;
	}
	return 0;
}

/* A client removed, or added under a name that may have been another's:
   no approval or heartbeat of a former client of that name holds for
   it. */
static int
forget_approvals(const char *path, const char *name)
{
	uid_t uid;
	gid_t gid;
	int r;

	approvals_owner(path, &uid, &gid);
	r = approvals_forget(path, NULL, name, uid, gid);
	if (r < 0)
		log_err("clients: %s is saved, but the approvals of '%s' are "
		        "not forgotten", path, name);
	return r;
}

static int
run(const char *what, const char *name, const char *path, const char *allow,
    const struct rules_change *ch)
{
	struct client_list l = { 0 };
	char *base = NULL;
	int dirfd = -1, r;

	r = load(path, &l, &dirfd, &base);
	if (r == 0 && strcmp(what, "list") == 0) {
		for (size_t i = 0; i < l.n; i++) {
			printf("%s %s", l.c[i].name,
			       l.c[i].enabled ? "enabled" : "disabled");
			client_print_allow(stdout, &l.c[i]);
			client_print_rules(stdout, &l.c[i]);
			putchar('\n');
		}
		r = fflush(stdout) == 0 ? 0 : -EIO;
	} else if (r == 0) {
		r = strcmp(what, "add") == 0 ?
		    client_add(&l, name, allow, ch) :
		    client_change(&l, what, name, ch);
		if (r == 0)
			r = save(dirfd, base, path, &l);
		if (r == 0 && (strcmp(what, "add") == 0 ||
		               strcmp(what, "remove") == 0))
			r = forget_approvals(path, name);
	}
	clients_free(&l);
	free(base);
	if (dirfd >= 0)
		close(dirfd);
	return r;
}

/* The clients file tetherd.conf names; --clients would have won. */
static int
run_configured(const char *what, const char *name, const char *config,
               const char *allow, const struct rules_change *ch)
{
	struct serve_config file = { 0 };
	int status = 2;

	if (serve_config_read_file(config, &file) < 0)
		goto out;
	if (!file.clients) {
		log_err("%s: names no clients file: give --clients FILE",
		        config);
		goto out;
	}
	status = run(what, name, file.clients, allow[0] ? allow : NULL,
	             ch) < 0;
out:
	serve_config_free(&file);
	return status;
}

/* The verbs that take --approval and --heartbeat. */
static bool
rules_verb(const char *what)
{
	return strcmp(what, "add") == 0 || strcmp(what, "set") == 0;
}

int
cmd_clients(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "clients", required_argument, NULL, 'c' },
		{ "config", required_argument, NULL, 'C' },
		{ "allow", required_argument, NULL, 'a' },
		{ "approval", required_argument, NULL, 'A' },
		{ "heartbeat", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const verbs[] = {
		"add", "list", "set", "enable", "disable", "remove",
	};
	const char *path = NULL, *config = NULL, *what, *name = NULL;
	char allow[CLIENT_ALLOW_MAX * (CIDR_TEXT_MAX + 1)] = "";
	bool known = false;
	struct rules_change ch = { -1, -1 };
	unsigned long long period;
	int c;

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		clients_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	what = argv[1];
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
		known |= strcmp(what, verbs[i]) == 0;
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "c:a:h", longopts, NULL)) != -1) {
		if (c == 'c') {
			path = optarg;
		} else if (c == 'C') {
			config = optarg;
		} else if (c == 'A' && rules_verb(what) &&
		           (strcmp(optarg, "manual") == 0 ||
		            strcmp(optarg, "auto") == 0)) {
			ch.approval = strcmp(optarg, "manual") == 0;
		} else if (c == 'H' && rules_verb(what) &&
		           (strcmp(optarg, "off") == 0 ||
		            parse_duration(optarg, CLIENT_HEARTBEAT_MAX,
		                           &period) == 0)) {
			ch.heartbeat = strcmp(optarg, "off") == 0 ? 0 :
			               (long long)period;
		} else if (c == 'a' && strcmp(what, "add") == 0 &&
		           strlen(allow) + strlen(optarg) + 2 < sizeof(allow)) {
			if (allow[0])
				strcat(allow, ",");
			strcat(allow, optarg);
		} else {
			clients_usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind < argc - 1)
		name = argv[1 + optind++];
	if (!known || (!path && !config) || optind < argc - 1 ||
	    (strcmp(what, "list") == 0) != (name == NULL) ||
	    (strcmp(what, "set") == 0 && ch.approval < 0 && ch.heartbeat < 0)) {
		log_err("clients: %s", !known ? "unknown subcommand" : !path ?
		        "--clients FILE or --config FILE is required" : "wrong arguments");
		clients_usage(stderr);
		return 2;
	}
	if (name && !client_name_valid(name)) {
		log_err("clients: a name is 1 to 64 of A-Z a-z 0-9 . _ -");
		return 2;
	}
	return path ? run(what, name, path, allow[0] ? allow : NULL,
	                  &ch) < 0 ? 1 : 0
	            : run_configured(what, name, config, allow, &ch);
}
