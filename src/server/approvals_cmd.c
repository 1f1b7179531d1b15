/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tetherd approvals list, tetherd approve NAME, tetherd deny NAME */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "server/approvals.h"
#include "server/config.h"

/* Ten years: an approval longer than that is a mistake. */
#define APPROVAL_FOR_MAX (10ULL * 366 * 24 * 3600)

static void
approvals_usage(FILE *f)
{
	fprintf(f,
	        "usage: tetherd approvals list (--clients FILE | --config FILE)\n"
	        "       tetherd approve NAME [--once | --for DURATION] "
	        "(--clients FILE | --config FILE)\n"
	        "       tetherd deny NAME (--clients FILE | --config FILE)\n"
	        "\n"
	        "Recoveries of clients added with --approval manual wait until\n"
	        "approved: --once (the default) for the next one, --for DURATION\n"
	        "(N followed by s, m, h, d or w) for all until then. deny refuses\n"
	        "them until the client is approved again. The server sees a\n"
	        "decision at the client's next try, with no signal. Approving a\n"
	        "client whose heartbeat is overdue lets it recover and forgets\n"
	        "the old heartbeat.\n");
}

struct args {
	const char *clients;
	const char *config;
	const char *name;
	bool once;
	unsigned long long seconds;	/* --for */
};

/* Options after the command's own word; 0, 1 for --help, or -EINVAL. */
static int
parse_args(int argc, char **argv, bool with_name, bool decision,
           struct args *a)
{
	static const struct option longopts[] = {
		{ "clients", required_argument, NULL, 'c' },
		{ "config", required_argument, NULL, 'C' },
		{ "once", no_argument, NULL, 'o' },
		{ "for", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_once = false;
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h')
			return 1;
		if (c == 'c')
			a->clients = optarg;
		else if (c == 'C')
			a->config = optarg;
		else if (c == 'o' && decision)
			have_once = true;
		else if (c == 'f' && decision &&
		         parse_duration(optarg, APPROVAL_FOR_MAX, &a->seconds) == 0)
			continue;
		else
			return -EINVAL;
	}
	if (with_name && optind < argc)
		a->name = argv[optind++];
	if (optind != argc || (with_name && !a->name) ||
	    (!a->clients && !a->config) || (have_once && a->seconds))
		return -EINVAL;
	a->once = !a->seconds;
	if (a->name && !client_name_valid(a->name)) {
		log_err("a name is 1 to 64 of A-Z a-z 0-9 . _ -");
		return -EINVAL;
	}
	return 0;
}

/* The clients file: --clients, or the one tetherd.conf names (owned). */
static char *
clients_path(const struct args *a)
{
	struct serve_config file = { 0 };
	char *path = NULL;

	if (a->clients)
		return strdup(a->clients);
	if (serve_config_read_file(a->config, &file) == 0) {
		if (file.clients)
			path = strdup(file.clients);
		else
			log_err("%s: names no clients file: give --clients FILE",
			        a->config);
	}
	serve_config_free(&file);
	return path;
}

static void
print_time(const char *label, long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[32];

	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf(" %s %s", label, buf);
}

static void
print_approval(const struct approval *a)
{
	printf("%s", a->name);
	switch (a->state) {
	case APPROVAL_PENDING:
		printf(" pending address %s kid %s", a->address, a->kid);
		print_time("first", a->first);
		print_time("last", a->last);
		break;
	case APPROVAL_ONCE:
		printf(" approved once");
		break;
	case APPROVAL_UNTIL:
		print_time("approved until", a->last);
		break;
	case APPROVAL_DENIED:
		print_time("denied since", a->first);
		break;
	case APPROVAL_SEEN:
		print_time("heartbeat last", a->last);
		break;
	}
	putchar('\n');
}

/* The client must be in the clients file: a typo approves nobody. */
static int
check_client(const char *path, const char *name)
{
	struct client_list l = { 0 };
	const struct client *c;
	char *text = NULL;
	size_t len, line;
	int r = read_file_at(AT_FDCWD, path, 64 * 1024 * 1024, &text, &len);

	if (r == 0)
		r = clients_parse(text, len, &l, &line);
	free(text);
	if (r < 0) {
		log_err("%s: cannot read the clients: %s", path, strerror(-r));
		return r;
	}
	c = clients_find(&l, name);
	if (!c)
		log_err("%s: no client '%s'", path, name);
	else if (!c->approval)
		log_warn("%s does not need approval now (tetherd clients set "
		         "%s --approval manual): the decision is kept", name,
		         name);
	r = c ? 0 : -ENOENT;
	clients_free(&l);
	return r;
}

/* list, or (decision) records one for a->name. 0 or -errno. */
static int
run(const struct args *a, const char *path, const char *verb)
{
	struct approvals_file f;
	struct approval_list l = { 0 };
	struct approval d = { 0 };
	long long now = (long long)time(NULL);
	uid_t uid;
	gid_t gid;
	int r;

	if (a->name && (r = check_client(path, a->name)) < 0)
		return r;
	r = approvals_lock(path, &f);
	if (r == 0)
		r = approvals_read(&f, &l);
	if (r == 0 && !a->name) {
		for (size_t i = 0; i < l.n; i++)
			print_approval(&l.a[i]);
		r = fflush(stdout) == 0 ? 0 : -EIO;
	} else if (r == 0) {
		snprintf(d.name, sizeof(d.name), "%s", a->name);
		d.first = now;
		if (strcmp(verb, "deny") == 0)
			d.state = APPROVAL_DENIED;
		else if (a->once)
			d.state = APPROVAL_ONCE;
		else
			d = (struct approval){ .state = APPROVAL_UNTIL,
			                       .last = now + (long long)a->seconds };
		snprintf(d.name, sizeof(d.name), "%s", a->name);
		approvals_owner(path, &uid, &gid);
		/* An operator's word outweighs an old heartbeat: the next
		   one counts from now on. */
		if (d.state != APPROVAL_DENIED)
			approvals_remove(&l, a->name, true);
		r = approvals_set(&l, &d);
		if (r == 0)
			r = approvals_write(&f, &l, uid, gid);
	}
	if (r < 0 && r != -EINVAL)
		log_err("%s" APPROVALS_SUFFIX ": %s", path, strerror(-r));
	approvals_unlock(&f);
	approvals_free(&l);
	return r;
}

static int
command(int argc, char **argv, const char *verb, bool with_name,
        bool decision)
{
	struct args a;
	char *path;
	int r = parse_args(argc, argv, with_name, decision, &a);

	if (r != 0) {
		approvals_usage(r > 0 ? stdout : stderr);
		return r > 0 ? 0 : 2;
	}
	path = clients_path(&a);
	if (!path)
		return 1;
	r = run(&a, path, verb);
	free(path);
	return r < 0 ? 1 : 0;
}

int
cmd_approvals(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "list") != 0) {
		bool help = argc >= 2 && strcmp(argv[1], "--help") == 0;

		approvals_usage(help ? stdout : stderr);
		return help ? 0 : 2;
	}
	return command(argc - 1, argv + 1, "list", false, false);
}

int
cmd_approve(int argc, char **argv)
{
	return command(argc, argv, "approve", true, true);
}

int
cmd_deny(int argc, char **argv)
{
	return command(argc, argv, "deny", true, false);
}
