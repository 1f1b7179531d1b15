/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "common/log.h"
#include "common/util.h"
#include "server/clients.h"
#include "server/commands.h"
#include "server/http.h"
#include "server/keydir.h"
#include "server/keyset.h"
#include "server/listen.h"

#define MAX_LISTENERS 16
/* Lets a burst of directory changes (a rotation) settle before reloading. */
#define RELOAD_SETTLE_MS 200

/* A certificate chain or key file is a few KiB. */
#define TLS_FILE_MAX (1024 * 1024)

struct serve_options {
	const char *keys;
	const char *listen[MAX_LISTENERS];
	size_t nlisten;
	bool open[MAX_LISTENERS];	/* --listen-open: no authentication */
	const char *tls_cert;
	const char *tls_key;
	const char *clients;
	struct http_config http;
	struct http_config http_open;
};

struct server {
	int dirfd;
	int sigfd;
	int inofd;
	struct keyset_slot slot;
	int fds[MAX_LISTENERS];
	bool tls[MAX_LISTENERS];
	bool open[MAX_LISTENERS];
	size_t nfds;
	struct client_registry clients;
	bool have_clients;
	char *tls_cert;
	char *tls_key;
	struct http_listener *listeners[MAX_LISTENERS];
};

static void
serve_usage(FILE *f)
{
	fprintf(f,
	        "usage: tetherd serve --keys DIR [--listen URL]... [options]\n"
	        "\n"
	        "  -k, --keys DIR        keys directory (a Tang keys directory works)\n"
	        "  -l, --listen URL      http://ADDR:PORT or https://ADDR:PORT, ADDR\n"
	        "                        IPv4 or [IPv6]; repeatable; none: systemd\n"
	        "                        socket activation\n"
	        "      --tls-cert FILE   PEM certificate chain for https listeners\n"
	        "      --tls-key FILE    PEM private key (not readable by others)\n"
	        "      --clients FILE    require HTTP Basic from the clients in FILE\n"
	        "                        (see tetherd clients) on every --listen\n"
	        "      --listen-open URL a listener that asks for no credentials,\n"
	        "                        for clients not yet given any\n"
	        "  -t, --threads N       worker threads per listener (default: cores)\n"
	        "      --timeout SEC     idle connection timeout (default: 10)\n"
	        "      --max-connections N  per listener (default: 1024)\n"
	        "  -h, --help            this text\n");
}

static int
option_number(const char *name, const char *arg, unsigned long min,
              unsigned long max, unsigned *out)
{
	unsigned long v;

	if (parse_ulong(arg, min, max, &v) < 0) {
		log_msg("--%s: expected a number from %lu to %lu, got '%s'",
		        name, min, max, arg);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

static int
parse_serve_options(int argc, char **argv, struct serve_options *o)
{
	enum { OPT_TIMEOUT = 256, OPT_MAXCONN, OPT_TLS_CERT, OPT_TLS_KEY,
	       OPT_CLIENTS, OPT_LISTEN_OPEN };
	static const struct option longopts[] = {
		{ "keys", required_argument, NULL, 'k' },
		{ "listen", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "max-connections", required_argument, NULL, OPT_MAXCONN },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ "clients", required_argument, NULL, OPT_CLIENTS },
		{ "listen-open", required_argument, NULL, OPT_LISTEN_OPEN },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int c, r = 0;

	o->http.threads = cores > 0 && cores < 256 ? (unsigned)cores : 1;
	o->http.timeout = 10;
	o->http.connections = 1024;
	while (r == 0 &&
	       (c = getopt_long(argc, argv, "+k:l:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			o->keys = optarg;
			break;
		case 'l':
		case OPT_LISTEN_OPEN:
			if (o->nlisten == MAX_LISTENERS) {
				log_msg("at most %d listeners", MAX_LISTENERS);
				return -EINVAL;
			}
			o->open[o->nlisten] = c == OPT_LISTEN_OPEN;
			o->listen[o->nlisten++] = optarg;
			break;
		case OPT_CLIENTS:
			o->clients = optarg;
			break;
		case 't':
			r = option_number("threads", optarg, 1, 256,
			                  &o->http.threads);
			break;
		case OPT_TIMEOUT:
			r = option_number("timeout", optarg, 1, 3600,
			                  &o->http.timeout);
			break;
		case OPT_MAXCONN:
			r = option_number("max-connections", optarg, 1, 65536,
			                  &o->http.connections);
			break;
		case OPT_TLS_CERT:
			o->tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			o->tls_key = optarg;
			break;
		case 'h':
			serve_usage(stdout);
			exit(EXIT_SUCCESS);
		default:
			serve_usage(stderr);
			return -EINVAL;
		}
	}
	if (r == 0 && optind < argc) {
		log_msg("serve: unexpected argument '%s'", argv[optind]);
		r = -EINVAL;
	}
	if (r == 0 && !o->keys) {
		log_msg("serve: --keys DIR is required");
		r = -EINVAL;
	}
	/* The library shares the connection limit among the threads; a
	   thread left with none never stops. */
	if (o->http.threads > o->http.connections)
		o->http.threads = o->http.connections;
	return r;
}

/* Loads the directory, creating a first key pair in a new one, as Tang does. */
static int
load_keys(int dirfd, const char *path, struct keyset **ks)
{
	char thp[JWK_THP_MAX + 1];
	int r = keyset_load(dirfd, ks);

	if (r == -ENOENT) {
		r = keydir_create(dirfd, thp);
		if (r < 0) {
			log_msg("%s: cannot create keys: %s", path, strerror(-r));
			return r;
		}
		log_msg("%s: created signing key %s and its exchange key",
		        path, thp);
		r = keyset_load(dirfd, ks);
	}
	if (r == -ENOKEY)
		log_msg("%s: no advertised signing key", path);
	else if (r < 0)
		log_msg("%s: cannot load keys: %s", path, strerror(-r));
	return r;
}

/* A PEM file of at most TLS_FILE_MAX bytes; keys must be private. */
static int
read_pem(const char *option, const char *path, bool secret, char **out)
{
	struct stat st;
	size_t len;
	int r;

	if (secret && stat(path, &st) == 0 && (st.st_mode & 0077)) {
		log_msg("%s %s: readable by others (mode %03o): chmod 600 it",
		        option, path, (unsigned)(st.st_mode & 0777));
		return -EPERM;
	}
	r = read_file_at(AT_FDCWD, path, TLS_FILE_MAX, out, &len);
	if (r < 0) {
		log_msg("%s %s: %s", option, path, strerror(-r));
		return r;
	}
	if (!strstr(*out, "-----BEGIN ")) {
		log_msg("%s %s: not a PEM file", option, path);
		free_secret(*out, len);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

static int
load_tls(struct server *s, const struct serve_options *o)
{
	int r;

	if (!o->tls_cert && !o->tls_key)
		return 0;
	if (!o->tls_cert || !o->tls_key) {
		log_msg("serve: --tls-cert and --tls-key go together");
		return -EINVAL;
	}
	r = read_pem("--tls-cert", o->tls_cert, false, &s->tls_cert);
	if (r == 0)
		r = read_pem("--tls-key", o->tls_key, true, &s->tls_key);
	return r;
}

/* Binds every --listen address and takes the socket-activation fds. */
static int
open_sockets(struct server *s, const struct serve_options *o)
{
	struct listen_url url;
	int n, fd;

	for (size_t i = 0; i < o->nlisten; i++) {
		if (listen_url_parse(o->listen[i], &url) < 0) {
			log_msg("--listen %s: expected http://ADDR:PORT or "
			        "https://ADDR:PORT with an IPv4 or [IPv6] address "
			        "and a port from 1 to 65535", o->listen[i]);
			return -EINVAL;
		}
		if (url.tls && !s->tls_cert) {
			log_msg("--listen %s: https needs --tls-cert and --tls-key",
			        o->listen[i]);
			return -EINVAL;
		}
		fd = listen_open(&url);
		if (fd < 0) {
			log_msg("--listen %s: %s", o->listen[i], strerror(-fd));
			return fd;
		}
		s->tls[s->nfds] = url.tls;
		s->open[s->nfds] = o->open[i];
		s->fds[s->nfds++] = fd;
	}
	n = sd_listen_fds(1);
	if (n < 0) {
		log_msg("socket activation: %s", strerror(-n));
		return n;
	}
	for (int i = 0; i < n; i++) {
		fd = SD_LISTEN_FDS_START + i;
		if (s->nfds == MAX_LISTENERS ||
		    sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
			log_msg("socket activation: fd %d is not a listening "
			        "stream socket, or too many", fd);
			return -EINVAL;
		}
		s->fds[s->nfds++] = fd;
	}
	if (s->nfds == 0) {
		log_msg("serve: nothing to listen on: give --listen URL or "
		        "start from a systemd socket");
		return -EINVAL;
	}
	return 0;
}

static int
start_listeners(struct server *s, const struct http_config *cfg,
                const struct http_config *open_cfg)
{
	for (size_t i = 0; i < s->nfds; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char name[64];

		if (getsockname(s->fds[i], (struct sockaddr *)&ss, &len) < 0)
			memset(&ss, 0, sizeof(ss));
		sockaddr_format((struct sockaddr *)&ss, name, sizeof(name));
		/* The listener owns the socket from here, even on failure. */
		s->listeners[i] = http_listener_start(s->fds[i], s->tls[i],
		                                      s->open[i] ? open_cfg : cfg);
		s->fds[i] = -1;
		if (!s->listeners[i])
			return -EIO;
		log_msg("listening on http%s://%s%s", s->tls[i] ? "s" : "", name,
		        cfg->clients && !s->open[i] ? " (clients must "
		        "authenticate)" : "");
	}
	return 0;
}

static int
watch_signals(struct server *s)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	/* Blocked before any thread starts, so only the signalfd sees them. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -EINVAL;
	signal(SIGPIPE, SIG_IGN);
	s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return s->sigfd < 0 ? -errno : 0;
}

static int
watch_directory(struct server *s, const char *path)
{
	s->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->inofd < 0)
		return -errno;
	if (inotify_add_watch(s->inofd, path, IN_CREATE | IN_DELETE |
	                      IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE |
	                      IN_ATTRIB | IN_DONT_FOLLOW) < 0)
		return -errno;
	return 0;
}

static void
reload(struct server *s, const char *path, const char *why)
{
	struct keyset *ks;

	if (load_keys(s->dirfd, path, &ks) < 0) {
		log_msg("reload (%s) failed: still serving the previous keys",
		        why);
		return;
	}
	log_msg("reloaded keys (%s): %zu advertised, %zu in all", why,
	        ks->nadvertised, ks->nkeys);
	keyset_slot_set(&s->slot, ks);
}

/* Returns 1 on a request to stop, 0 after SIGHUP. */
static int
read_signal(struct server *s)
{
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		if (si.ssi_signo != SIGHUP)
			return 1;
	return 0;
}

static void
drain_inotify(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(fd, buf, sizeof(buf)) > 0)
		continue;
}

static void
event_loop(struct server *s, const char *path)
{
	unsigned long long due = 0;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = s->sigfd, .events = POLLIN },
			{ .fd = s->inofd, .events = POLLIN },
		};
		int timeout = -1;

		if (due) {
			unsigned long long now = now_usec();

			timeout = due > now ? (int)((due - now) / 1000) + 1 : 0;
		}
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR) {
			log_msg("poll: %s", strerror(errno));
			return;
		}
		if (pfd[0].revents & POLLIN) {
			if (read_signal(s))
				return;
			reload(s, path, "SIGHUP");
		}
		if (pfd[1].revents & POLLIN) {
			drain_inotify(s->inofd);
			due = now_usec() + RELOAD_SETTLE_MS * 1000ULL;
		}
		if (due && now_usec() >= due) {
			due = 0;
			reload(s, path, "directory changed");
		}
	}
}

int
cmd_serve(int argc, char **argv)
{
	struct serve_options o = { 0 };
	struct server s = { .dirfd = -1, .sigfd = -1, .inofd = -1 };
	struct keyset *ks;
	int r;

	if (parse_serve_options(argc, argv, &o) < 0)
		return 2;
	pthread_mutex_init(&s.slot.lock, NULL);
	/* Everything that can refuse the command line comes before any key
	   is created in a new directory. */
	r = load_tls(&s, &o);
	if (r == 0 && o.clients) {
		r = client_registry_open(&s.clients, o.clients);
		s.have_clients = r == 0;
	}
	if (r == 0)
		r = open_sockets(&s, &o);
	if (r == 0) {
		s.dirfd = keydir_open(o.keys);
		r = s.dirfd < 0 ? s.dirfd : load_keys(s.dirfd, o.keys, &ks);
	}
	if (r == 0) {
		keyset_slot_set(&s.slot, ks);
		o.http.keys = &s.slot;
		o.http.tls_cert = s.tls_cert;
		o.http.tls_key = s.tls_key;
		o.http_open = o.http;
		o.http.clients = s.have_clients ? &s.clients : NULL;
		r = watch_signals(&s);
		if (r == 0)
			r = watch_directory(&s, o.keys);
		if (r < 0)
			log_msg("cannot watch signals or %s: %s", o.keys,
			        strerror(-r));
	}
	if (r == 0)
		r = start_listeners(&s, &o.http, &o.http_open);
	if (r == 0) {
		log_msg("serving %zu advertised keys (%zu in all) from %s with "
		        "%u threads per listener", ks->nadvertised, ks->nkeys,
		        o.keys, o.http.threads);
		sd_notify(0, "READY=1\nSTATUS=serving");
		event_loop(&s, o.keys);
		sd_notify(0, "STOPPING=1");
	}
	for (size_t i = 0; i < s.nfds; i++) {
		http_listener_stop(s.listeners[i]);
		if (s.fds[i] >= 0)
			close(s.fds[i]);
	}
	keyset_slot_set(&s.slot, NULL);
	free(s.tls_cert);
	free_secret_str(s.tls_key);
	if (s.have_clients)
		client_registry_close(&s.clients);
	if (s.inofd >= 0)
		close(s.inofd);
	if (s.sigfd >= 0)
		close(s.sigfd);
	if (s.dirfd >= 0)
		close(s.dirfd);
	return r < 0 ? 1 : 0;
}
