/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "common/log.h"
#include "common/util.h"

enum kind { STRING, NUMBER, LISTEN, LISTEN_OPEN, ALLOW };

/* Every setting, once: the long option and the config file's name. */
static const struct setting {
	const char *name;
	enum kind kind;
	size_t offset;
	unsigned long min, max;
	char short_opt;
} settings[] = {
	{ "keys", STRING, offsetof(struct serve_config, keys), 0, 0, 'k' },
	{ "listen", LISTEN, 0, 0, 0, 'l' },
	{ "listen-open", LISTEN_OPEN, 0, 0, 0, 0 },
	{ "tls-cert", STRING, offsetof(struct serve_config, tls_cert), 0, 0, 0 },
	{ "tls-key", STRING, offsetof(struct serve_config, tls_key), 0, 0, 0 },
	{ "clients", STRING, offsetof(struct serve_config, clients), 0, 0, 0 },
	{ "allow", ALLOW, 0, 0, 0, 0 },
	{ "rec-rate", NUMBER, offsetof(struct serve_config, policy.rec_rate),
	  0, 1000000, 0 },
	{ "rec-burst", NUMBER, offsetof(struct serve_config, policy.rec_burst),
	  1, 100000, 0 },
	{ "auth-fail-rate", NUMBER,
	  offsetof(struct serve_config, policy.fail_rate), 0, 1000000, 0 },
	{ "auth-fail-burst", NUMBER,
	  offsetof(struct serve_config, policy.fail_burst), 1, 100000, 0 },
	{ "metrics", STRING, offsetof(struct serve_config, metrics), 0, 0, 0 },
	{ "notify", STRING, offsetof(struct serve_config, notify), 0, 0, 0 },
	{ "notify-timeout", NUMBER,
	  offsetof(struct serve_config, notify_timeout), 1, 3600, 0 },
	{ "notify-max", NUMBER,
	  offsetof(struct serve_config, notify_max), 1, 64, 0 },
	{ "audit-log", STRING, offsetof(struct serve_config, audit_log), 0, 0, 0 },
	{ "user", STRING, offsetof(struct serve_config, user), 0, 0, 0 },
	{ "threads", NUMBER, offsetof(struct serve_config, threads), 1, 256, 't' },
	{ "timeout", NUMBER, offsetof(struct serve_config, timeout), 1, 3600, 0 },
	{ "request-timeout", NUMBER,
	  offsetof(struct serve_config, request_timeout), 1, 3600, 0 },
	{ "max-connections", NUMBER,
	  offsetof(struct serve_config, connections), 1, 65536, 0 },
	{ "max-connections-per-address", NUMBER,
	  offsetof(struct serve_config, connections_per_address), 0, 65536, 0 },
};

#define OPT_BASE 256
#define OPT_CONFIG (OPT_BASE + 100)
#define OPT_HELP 'h'

void
serve_usage(FILE *f)
{
	fprintf(f,
	        "usage: tetherd serve --keys DIR [--listen URL]... [options]\n"
	        "\n"
	        "  -c, --config FILE     settings (see tetherd.conf(5)); flags win\n"
	        "  -k, --keys DIR        keys directory (a Tang keys directory works)\n"
	        "  -l, --listen URL      http://ADDR:PORT or https://ADDR:PORT, ADDR\n"
	        "                        IPv4 or [IPv6]; repeatable; none: systemd\n"
	        "                        socket activation\n"
	        "      --listen-open URL a listener that asks for no credentials,\n"
	        "                        for clients not yet given any\n"
	        "      --tls-cert FILE   PEM certificate chain for https listeners\n"
	        "      --tls-key FILE    PEM private key (not readable by others)\n"
	        "      --clients FILE    require HTTP Basic from the clients in FILE\n"
	        "                        (see tetherd clients) on every --listen\n"
	        "      --allow CIDR      serve only these addresses (repeatable);\n"
	        "                        others are closed on accept\n"
	        "      --rec-rate N      recoveries per minute per address and per\n"
	        "                        client (default: 120; 0: no limit)\n"
	        "      --rec-burst N     recoveries at once (default: 30)\n"
	        "      --auth-fail-rate N  failed authentications per minute per\n"
	        "                        address and per name (default: 10)\n"
	        "      --auth-fail-burst N  (default: 5)\n"
	        "      --audit-log FILE  append the audit trail (JSON lines) to FILE\n"
	        "      --notify PROGRAM  run PROGRAM (an absolute path) for each\n"
	        "                        recovery and denial, the event on stdin\n"
	        "      --notify-timeout SEC  before it is killed (default: 10)\n"
	        "      --notify-max N    programs at once; more are dropped (4)\n"
	        "      --metrics URL     serve Prometheus metrics at http://ADDR:PORT\n"
	        "                        /metrics, apart from the Tang listeners\n"
	        "      --user NAME       started as root: bind, then run as NAME\n"
	        "                        (default: tether)\n"
	        "  -t, --threads N       worker threads per listener (default: cores)\n"
	        "      --timeout SEC     idle connection timeout (default: 10)\n"
	        "      --request-timeout SEC  for each request to arrive whole\n"
	        "                        (default: 5)\n"
	        "      --max-connections N  per listener (default: 1024)\n"
	        "      --max-connections-per-address N  (default: 64; 0: no cap)\n"
	        "  -h, --help            this text\n");
}

static void
defaults(struct serve_config *c)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof(*c));
	c->threads = cores > 0 && cores < 256 ? (unsigned)cores : 1;
	c->timeout = 10;
	c->request_timeout = 5;
	c->connections = 1024;
	c->connections_per_address = 64;
	c->notify_timeout = 10;
	c->notify_max = 4;
	c->policy.rec_rate = 120;
	c->policy.rec_burst = 30;
	c->policy.fail_rate = 10;
	c->policy.fail_burst = 5;
}

static int
set_string(char **field, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

/*
 * Applies one setting, or says in err why not; the caller names where
 * the value came from.
 */
static int
apply(struct serve_config *c, const struct setting *s, const char *value,
      char *err, size_t errlen)
{
	unsigned long v;

	switch (s->kind) {
	case STRING:
		if (!*value) {
			snprintf(err, errlen, "expected a value");
			return -EINVAL;
		}
		return set_string((char **)((char *)c + s->offset), value);
	case NUMBER:
		if (parse_ulong(value, s->min, s->max, &v) < 0) {
			snprintf(err, errlen, "expected a number from %lu to "
			         "%lu, got '%s'", s->min, s->max, value);
			return -EINVAL;
		}
		*(unsigned *)((char *)c + s->offset) = (unsigned)v;
		return 0;
	case LISTEN:
	case LISTEN_OPEN:
		if (c->nlisten == CONFIG_LISTEN_MAX) {
			snprintf(err, errlen, "at most %d listeners",
			         CONFIG_LISTEN_MAX);
			return -EINVAL;
		}
		c->open[c->nlisten] = s->kind == LISTEN_OPEN;
		return set_string(&c->listen[c->nlisten++], value);
	case ALLOW:
		if (c->policy.nallow == POLICY_ALLOW_MAX ||
		    cidr_parse(value, &c->policy.allow[c->policy.nallow]) < 0) {
			snprintf(err, errlen, "'%s': expected ADDRESS[/LENGTH], "
			         "IPv4 or IPv6, no host bits, at most %d", value,
			         POLICY_ALLOW_MAX);
			return -EINVAL;
		}
		c->policy.nallow++;
		return 0;
	}
	return -EINVAL;
}

static const struct setting *
find_setting(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(settings); i++)
		if (strcmp(settings[i].name, name) == 0)
			return &settings[i];
	return NULL;
}

static void
clear_listen(struct serve_config *c)
{
	for (size_t i = 0; i < CONFIG_LISTEN_MAX; i++) {
		free(c->listen[i]);
		c->listen[i] = NULL;
	}
	c->nlisten = 0;
}

/* The file's reader state: inih calls back per line, the line count is ours. */
struct file_parse {
	struct serve_config *c;
	const char *path;
	FILE *f;
	unsigned line;
	unsigned error_line;	/* the first line refused by us, not inih */
	char error[256];
};

static char *
read_line(char *buf, int num, void *stream)
{
	struct file_parse *fp = stream;
	size_t n;

	if (!fgets(buf, num, fp->f))
		return NULL;
	fp->line++;
	/* inih takes sections without a word to us: refuse them here. */
	if (buf[strspn(buf, " \t")] == '[' && !fp->error_line) {
		fp->error_line = fp->line;
		snprintf(fp->error, sizeof(fp->error), "%.*s: the file has no "
		         "sections", (int)strcspn(buf + strspn(buf, " \t"), "]\n") + 1,
		         buf + strspn(buf, " \t"));
	}
	n = strlen(buf);
	if (n == (size_t)num - 1 && buf[n - 1] != '\n' && !feof(fp->f)) {
		int ch;

		/* The rest of the line is dropped, and the line refused. */
		while ((ch = fgetc(fp->f)) != EOF && ch != '\n')
			continue;
		if (!fp->error_line) {
			fp->error_line = fp->line;
			snprintf(fp->error, sizeof(fp->error), "line too long");
		}
	}
	return buf;
}

static int
on_setting(void *user, const char *section, const char *name,
           const char *value)
{
	struct file_parse *fp = user;
	const struct setting *s = find_setting(name);
	char why[200];

	if (fp->error_line)
		return 1;
	if (*section)
		snprintf(fp->error, sizeof(fp->error), "[%s]: the file has no "
		         "sections", section);
	else if (!s)
		snprintf(fp->error, sizeof(fp->error), "unknown setting '%s'",
		         name);
	else if (apply(fp->c, s, value, why, sizeof(why)) == 0)
		return 1;
	else
		snprintf(fp->error, sizeof(fp->error), "%s: %s", name, why);
	fp->error_line = fp->line;
	return 0;
}

int
serve_config_read_file(const char *path, struct serve_config *c)
{
	struct stat st;
	FILE *f;
	int r;

	f = fopen(path, "re");
	if (!f) {
		log_err("%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > CONFIG_FILE_MAX) {
		log_err("%s: not a regular file of at most %d bytes", path,
		        CONFIG_FILE_MAX);
		fclose(f);
		return -EINVAL;
	}
	r = serve_config_read_stream(f, path, c);
	fclose(f);
	return r;
}

int
serve_config_read_stream(FILE *f, const char *path, struct serve_config *c)
{
	struct file_parse fp = { .c = c, .path = path, .f = f };
	char error[4 * sizeof(fp.error)];
	int r;

	r = ini_parse_stream(read_line, &fp, on_setting, &fp);
	/* inih reports the first line it refused; ours may come later. The
	   reason quotes the file, whatever bytes it holds: escaped. */
	log_escape(error, sizeof(error), fp.error, strlen(fp.error));
	if (r > 0 && (!fp.error_line || (unsigned)r < fp.error_line))
		log_err("%s:%d: expected 'name = value'", path, r);
	else if (fp.error_line)
		log_err("%s:%u: %s", path, fp.error_line, error);
	else if (r < 0)
		log_err("%s: cannot read it", path);
	return r == 0 && !fp.error_line ? 0 : -EINVAL;
}

static void
long_options(struct option *lo)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(settings); i++)
		lo[i] = (struct option){ settings[i].name, required_argument,
		                         NULL, settings[i].short_opt ?
		                         settings[i].short_opt : OPT_BASE + (int)i };
	lo[i++] = (struct option){ "config", required_argument, NULL, OPT_CONFIG };
	lo[i++] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	lo[i] = (struct option){ NULL, 0, NULL, 0 };
}

static const struct setting *
setting_for(int opt)
{
	if (opt >= OPT_BASE && opt < OPT_BASE + (int)ARRAY_SIZE(settings))
		return &settings[opt - OPT_BASE];
	for (size_t i = 0; i < ARRAY_SIZE(settings); i++)
		if (settings[i].short_opt && settings[i].short_opt == opt)
			return &settings[i];
	return NULL;
}

#define SHORT_OPTS "+c:k:l:t:h"

/* First pass: --config and --help only. */
static int
find_config(int argc, char **argv, struct serve_config *c,
            const struct option *lo)
{
	int o;

	optind = 0;
	opterr = 0;
	while ((o = getopt_long(argc, argv, SHORT_OPTS, lo, NULL)) != -1) {
		if (o == OPT_HELP) {
			serve_usage(stdout);
			return 1;
		}
		if ((o == OPT_CONFIG || o == 'c') &&
		    set_string(&c->config, optarg) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int
check(struct serve_config *c)
{
	if (!c->keys) {
		log_err("serve: --keys DIR (or keys = DIR) is required");
		return -EINVAL;
	}
	if (c->notify && c->notify[0] != '/') {
		log_err("serve: notify %s: an absolute path is required (no "
		        "shell runs it, no PATH is searched)", c->notify);
		return -EINVAL;
	}
	if (!c->user && set_string(&c->user, "tether") < 0)
		return -ENOMEM;
	/* The library shares the connection limit among the threads; a
	   thread left with none never stops. */
	if (c->threads > c->connections)
		c->threads = c->connections;
	return 0;
}

int
serve_config_load(int argc, char **argv, struct serve_config *c)
{
	struct option lo[ARRAY_SIZE(settings) + 3];
	bool listen_cleared = false, allow_cleared = false;
	int o, r;

	defaults(c);
	long_options(lo);
	r = find_config(argc, argv, c, lo);
	if (r != 0)
		return r;
	if (c->config && serve_config_read_file(c->config, c) < 0)
		return -EINVAL;
	optind = 0;
	opterr = 1;
	while ((o = getopt_long(argc, argv, SHORT_OPTS, lo, NULL)) != -1) {
		const struct setting *s = setting_for(o);
		char why[200];

		if (o == OPT_CONFIG || o == 'c')
			continue;
		if (!s) {
			serve_usage(stderr);
			return -EINVAL;
		}
		/* A list on the command line replaces the file's. */
		if ((s->kind == LISTEN || s->kind == LISTEN_OPEN) &&
		    !listen_cleared) {
			clear_listen(c);
			listen_cleared = true;
		}
		if (s->kind == ALLOW && !allow_cleared) {
			c->policy.nallow = 0;
			allow_cleared = true;
		}
		if (apply(c, s, optarg, why, sizeof(why)) < 0) {
			log_err("--%s: %s", s->name, why);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_err("serve: unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return check(c);
}

void
serve_config_free(struct serve_config *c)
{
	clear_listen(c);
	free(c->config);
	free(c->keys);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->clients);
	free(c->audit_log);
	free(c->metrics);
	free(c->notify);
	free(c->user);
	memset(c, 0, sizeof(*c));
}
