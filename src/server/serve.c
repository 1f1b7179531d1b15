/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "common/log.h"
#include "common/util.h"
#include "server/approvals.h"
#include "server/audit.h"
#include "server/clients.h"
#include "server/config.h"
#include "server/commands.h"
#include "server/http.h"
#include "server/keydir.h"
#include "server/keystore.h"
#include "server/listen.h"
#include "server/metrics.h"
#include "server/metrics_listener.h"
#include "server/notify.h"
#include "server/policy.h"
#include "server/privilege.h"
#include "server/tls_identity.h"

#define MAX_LISTENERS CONFIG_LISTEN_MAX

/* A certificate chain or key file is a few KiB. */
#define TLS_FILE_MAX (1024 * 1024)

struct server {
	struct serve_config cfg;
	int argc;			/* the command line, read again on */
	char **argv;			/* SIGHUP with the config file */
	int dirfd;
	int sigfd;
	int inofd;
	struct keystore store;
	bool store_open;
	struct policy_slot policy;
	int fds[MAX_LISTENERS];
	bool tls[MAX_LISTENERS];
	bool open[MAX_LISTENERS];
	size_t nfds;
	struct client_registry clients;
	bool registry_ready;		/* clients read at least once */
	bool tls_ready;			/* a certificate is in force */
	struct http_listener *listeners[MAX_LISTENERS];
	int metrics_fd;			/* until its listener takes it */
	struct metrics_listener *metrics;
	bool as_root;			/* started as root: drops to user */
	struct service_user user;	/* name borrowed: for start-up only */
};

/* A PEM file of at most TLS_FILE_MAX bytes; keys must be private. */
static int
read_pem(const char *option, const char *path, bool secret, char **out)
{
	struct stat st;
	size_t len;
	int r;

	if (secret && stat(path, &st) == 0 && (st.st_mode & 0077)) {
		log_err("%s %s: readable by others (mode %03o): chmod 600 it",
		        option, path, (unsigned)(st.st_mode & 0777));
		return -EPERM;
	}
	r = read_file_at(AT_FDCWD, path, TLS_FILE_MAX, out, &len);
	if (r < 0) {
		log_err("%s %s: %s", option, path, strerror(-r));
		return r;
	}
	if (!strstr(*out, "-----BEGIN ")) {
		log_err("%s %s: not a PEM file", option, path);
		free_secret(*out, len);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

/* Both files or neither; NULL in *id for neither. */
static int
load_tls(const struct serve_config *c, struct tls_identity **id)
{
	char *cert = NULL, *key = NULL;
	int r;

	*id = NULL;
	if (!c->tls_cert && !c->tls_key)
		return 0;
	if (!c->tls_cert || !c->tls_key) {
		log_err("serve: --tls-cert and --tls-key go together");
		return -EINVAL;
	}
	r = read_pem("--tls-cert", c->tls_cert, false, &cert);
	if (r == 0)
		r = read_pem("--tls-key", c->tls_key, true, &key);
	if (r == 0)
		r = tls_identity_new(cert, c->tls_cert, key, c->tls_key, id);
	free(cert);
	if (key)
		free_secret_str(key);
	return r;
}

/*
 * What a socket from systemd serves, by its unit's FileDescriptorName=:
 * "https" and "https-open" are TLS listeners, "open" and "https-open" ask
 * no client for credentials; any other name (the unit's own, by default)
 * is plain HTTP with credentials, as --listen is.
 */
static void
activation_kind(const char *name, bool *tls, bool *open)
{
	*tls = name && (strcmp(name, "https") == 0 ||
	                strcmp(name, "https-open") == 0);
	*open = name && (strcmp(name, "open") == 0 ||
	                 strcmp(name, "https-open") == 0);
}

static void
free_names(char **names, int n)
{
	if (!names)
		return;
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int
take_metrics_socket(struct server *s, int fd)
{
	if (s->cfg.metrics || s->metrics_fd >= 0 ||
	    sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
		log_err("socket activation: the socket named metrics must be "
		        "a listening stream socket, the only one, with no "
		        "metrics setting");
		return -EINVAL;
	}
	s->metrics_fd = fd;
	return 0;
}

/* Takes the sockets systemd passed, each as its name says. */
static int
take_activated(struct server *s)
{
	char **names = NULL;
	bool tls, open;
	int n, fd, r = 0;

	n = sd_listen_fds_with_names(1, &names);
	if (n < 0) {
		log_err("socket activation: %s", strerror(-n));
		return n;
	}
	for (int i = 0; i < n && r == 0; i++) {
		fd = SD_LISTEN_FDS_START + i;
		/* The metrics listener's own socket (tetherd-metrics.socket):
		   under a unit with a network of its own, the only way to one
		   a monitoring host reaches. */
		if (names && strcmp(names[i], "metrics") == 0) {
			r = take_metrics_socket(s, fd);
			continue;
		}
		activation_kind(names ? names[i] : NULL, &tls, &open);
		/* A server that stopped before us shut the socket systemd keeps
		   for us down: listening again on it revives it. */
		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 0) > 0)
			(void)listen(fd, SOMAXCONN);
		if (s->nfds == MAX_LISTENERS ||
		    sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
			log_err("socket activation: fd %d is not a listening "
			        "stream socket, or too many", fd);
			r = -EINVAL;
		} else if (tls && !s->tls_ready) {
			log_err("socket activation: the socket named %s needs "
			        "tls-cert and tls-key", names[i]);
			r = -EINVAL;
		} else {
			s->tls[s->nfds] = tls;
			s->open[s->nfds] = open;
			s->fds[s->nfds++] = fd;
		}
	}
	free_names(names, n);
	return r;
}

/* Whether a and b (IPv4 or IPv6, with ports) would take the same port:
   the same address, or either a wildcard of the same family. */
static bool
same_port(const struct sockaddr *a, const struct sockaddr *b)
{
	static const uint8_t any[16];
	int fa, fb;
	const uint8_t *ia = sockaddr_ip(a, &fa), *ib = sockaddr_ip(b, &fb);
	size_t n = fa == AF_INET ? 4 : 16;
	in_port_t pa, pb;

	if (!ia || !ib || fa != fb)
		return false;
	pa = fa == AF_INET ? ((const struct sockaddr_in *)a)->sin_port
	                   : ((const struct sockaddr_in6 *)a)->sin6_port;
	pb = fa == AF_INET ? ((const struct sockaddr_in *)b)->sin_port
	                   : ((const struct sockaddr_in6 *)b)->sin6_port;
	return pa == pb && (memcmp(ia, ib, n) == 0 || memcmp(ia, any, n) == 0 ||
	                    memcmp(ib, any, n) == 0);
}

/*
 * The metrics listener: plain HTTP, never where a Tang listener is, so
 * that what Tang clients reach never changes and the metrics can be kept
 * to a monitoring address.
 */
static int
open_metrics(struct server *s)
{
	const char *m = s->cfg.metrics;
	struct listen_url url;

	if (!m)
		return 0;
	if (listen_url_parse(m, &url) < 0 || url.tls) {
		log_err("--metrics %s: expected http://ADDR:PORT with an IPv4 "
		        "or [IPv6] address and a port from 1 to 65535", m);
		return -EINVAL;
	}
	for (size_t i = 0; i < s->nfds; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (getsockname(s->fds[i], (struct sockaddr *)&ss, &len) == 0 &&
		    same_port((struct sockaddr *)&ss,
		              (struct sockaddr *)&url.addr)) {
			log_err("--metrics %s: a Tang listener is there: give "
			        "the metrics an address of their own", m);
			return -EINVAL;
		}
	}
	s->metrics_fd = listen_open(&url);
	if (s->metrics_fd < 0) {
		log_err("--metrics %s: %s", m, strerror(-s->metrics_fd));
		return s->metrics_fd;
	}
	return 0;
}

static size_t
approvals_pending(void *arg)
{
	struct server *s = arg;
	char path[4096];

	return client_registry_path(&s->clients, path, sizeof(path)) == 0 ?
	       approvals_count_pending(path) : 0;
}

static size_t
past_heartbeat(void *arg)
{
	struct server *s = arg;

	return approvals_count_past_heartbeat(&s->clients,
	                                      (long long)time(NULL));
}

static int
start_metrics(struct server *s)
{
	struct metrics_source src = { .keys = &s->store };

	/* Approvals live beside the clients file: none without one. */
	if (s->registry_ready) {
		src.approvals_pending = approvals_pending;
		src.past_heartbeat = past_heartbeat;
		src.arg = s;
	}

	if (s->metrics_fd < 0)
		return 0;
	s->metrics = metrics_listener_start(s->metrics_fd, &src);
	s->metrics_fd = -1;
	if (!s->metrics)
		return -EIO;
	log_msg("metrics at %s/metrics", s->cfg.metrics ? s->cfg.metrics :
	        "the socket named metrics");
	return 0;
}

/* Binds every --listen address and takes the socket-activation fds. */
static int
open_sockets(struct server *s)
{
	const struct serve_config *c = &s->cfg;
	struct listen_url url;
	int n, fd;

	for (size_t i = 0; i < c->nlisten; i++) {
		if (listen_url_parse(c->listen[i], &url) < 0) {
			log_err("--listen %s: expected http://ADDR:PORT or "
			        "https://ADDR:PORT with an IPv4 or [IPv6] address "
			        "and a port from 1 to 65535", c->listen[i]);
			return -EINVAL;
		}
		if (url.tls && !s->tls_ready) {
			log_err("--listen %s: https needs --tls-cert and --tls-key",
			        c->listen[i]);
			return -EINVAL;
		}
		fd = listen_open(&url);
		if (fd < 0) {
			log_err("--listen %s: %s", c->listen[i], strerror(-fd));
			return fd;
		}
		s->tls[s->nfds] = url.tls;
		s->open[s->nfds] = c->open[i];
		s->fds[s->nfds++] = fd;
	}
	n = take_activated(s);
	if (n < 0)
		return n;
	if (s->nfds == 0) {
		log_err("serve: nothing to listen on: give --listen URL or "
		        "start from a systemd socket");
		return -EINVAL;
	}
	return open_metrics(s);
}

/* What listener i runs with now. */
static struct http_config
http_config_for(struct server *s, size_t i)
{
	const struct serve_config *c = &s->cfg;

	return (struct http_config){
		.threads = c->threads,
		.timeout = c->timeout,
		.request_timeout = c->request_timeout,
		.connections = c->connections,
		.connections_per_address = c->connections_per_address,
		.keys = &s->store,
		.policy = &s->policy,
		.clients = c->clients && !s->open[i] ? &s->clients : NULL,
	};
}

/*
 * Descriptors for every connection the listeners may hold: systemd's
 * default soft limit (1024) is below one listener's default, and a
 * refused accept would keep a client out whatever room the caps make.
 */
static void
raise_open_files(struct server *s)
{
	rlim_t need = 64;
	struct rlimit rl;

	for (size_t i = 0; i < s->nfds; i++) {
		struct http_config cfg = http_config_for(s, i);

		need += http_listener_capacity(&cfg);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < need)
		log_warn("open files limited to %llu; the connection caps "
		         "need %llu", (unsigned long long)rl.rlim_cur,
		         (unsigned long long)need);
}

static int
start_listeners(struct server *s)
{
	for (size_t i = 0; i < s->nfds; i++) {
		struct http_config cfg = http_config_for(s, i);
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char name[64];

		if (getsockname(s->fds[i], (struct sockaddr *)&ss, &len) < 0)
			memset(&ss, 0, sizeof(ss));
		sockaddr_format((struct sockaddr *)&ss, name, sizeof(name));
		/* The listener owns the socket from here, even on failure. */
		s->listeners[i] = http_listener_start(s->fds[i], s->tls[i], &cfg);
		s->fds[i] = -1;
		if (!s->listeners[i])
			return -EIO;
		log_msg("listening on http%s://%s%s", s->tls[i] ? "s" : "", name,
		        cfg.clients ? " (clients must authenticate)" : "");
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

static bool
same_string(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int
copy_string(char **to, const char *from)
{
	free(*to);
	*to = from ? strdup(from) : NULL;
	return from && !*to ? -ENOMEM : 0;
}

/*
 * Keeps what only a restart can change (the sockets and the servers on
 * them with their threads, timeout and connection limits, the keys
 * directory, the user) at the running values, saying so; the running
 * settings are not touched, so a reload that fails later leaves them
 * whole.
 */
static int
keep_fixed(const struct server *s, struct serve_config *fresh)
{
	bool same = fresh->nlisten == s->cfg.nlisten;
	char *const *running[] = { &s->cfg.keys, &s->cfg.user,
	                           &s->cfg.metrics, &s->cfg.notify };
	char **wanted[] = { &fresh->keys, &fresh->user, &fresh->metrics,
	                    &fresh->notify };
	static const char *const what[] = {
		"keys and user change", "keys and user change",
		"the metrics listener changes", "the notify settings change",
	};
	const unsigned *run_n[] = { &s->cfg.threads, &s->cfg.timeout,
	                            &s->cfg.request_timeout,
	                            &s->cfg.connections,
	                            &s->cfg.connections_per_address };
	unsigned *want_n[] = { &fresh->threads, &fresh->timeout,
	                       &fresh->request_timeout,
	                       &fresh->connections,
	                       &fresh->connections_per_address };
	bool kept = false;
	int r = 0;

	for (size_t i = 0; i < ARRAY_SIZE(run_n); i++) {
		kept |= *want_n[i] != *run_n[i];
		*want_n[i] = *run_n[i];
	}
	if (kept)
		log_warn("reload: threads, timeout and connection limits change "
		         "only on restart");

	for (size_t i = 0; same && i < fresh->nlisten; i++)
		same = strcmp(fresh->listen[i], s->cfg.listen[i]) == 0 &&
		       fresh->open[i] == s->cfg.open[i];
	if (!same)
		log_warn("reload: listeners change only on restart");
	if (fresh->notify_timeout != s->cfg.notify_timeout ||
	    fresh->notify_max != s->cfg.notify_max)
		log_warn("reload: the notify settings change only on restart");
	fresh->notify_timeout = s->cfg.notify_timeout;
	fresh->notify_max = s->cfg.notify_max;
	for (size_t i = 0; i < ARRAY_SIZE(running); i++) {
		if (!same_string(*running[i], *wanted[i]))
			log_warn("reload: %s only on restart", what[i]);
		if (r == 0)
			r = copy_string(wanted[i], *running[i]);
	}
	for (size_t i = 0; i < CONFIG_LISTEN_MAX; i++) {
		if (r == 0)
			r = copy_string(&fresh->listen[i], s->cfg.listen[i]);
		fresh->open[i] = s->cfg.open[i];
	}
	fresh->nlisten = s->cfg.nlisten;
	return r;
}

/*
 * Each list of clients read: the approvals and heartbeats of clients no
 * longer in it are forgotten, so that one added again under the name
 * starts with none. (Removed and added again between two reads, the
 * name is seen throughout: tetherd clients remove and add forget it
 * themselves.) A failure is logged; it approves nothing.
 */
static void
forget_removed(const char *path, const struct client_list *l)
{
	(void)approvals_forget(path, l, NULL, (uid_t)-1, (gid_t)-1);
}

/* The clients file fresh names, read before anything is changed. */
static int
reload_clients(struct server *s, const struct serve_config *fresh)
{
	if (!fresh->clients || same_string(fresh->clients, s->cfg.clients))
		return 0;
	if (!s->registry_ready) {
		if (client_registry_open(&s->clients, fresh->clients) < 0)
			return -EINVAL;
		s->registry_ready = true;
		client_registry_on_load(&s->clients, forget_removed);
		return 0;
	}
	return client_registry_repoint(&s->clients, fresh->clients);
}

/*
 * SIGHUP: the config file and command line are read again; clients,
 * policy and certificate change at once, for requests on open
 * connections too, with the servers left running; the audit file is
 * opened again, rotated or moved; the rate-limit buckets stay, at the
 * new rates. Anything wrong keeps the running settings.
 */
static void
reload(struct server *s)
{
	struct serve_config fresh;
	struct tls_identity *id = NULL;
	struct policy *p = NULL, *old;
	int r;

	if (serve_config_load(s->argc, s->argv, &fresh) != 0 ||
	    keep_fixed(s, &fresh) < 0 || load_tls(&fresh, &id) < 0 ||
	    reload_clients(s, &fresh) < 0) {
		tls_identity_unref(id);
		serve_config_free(&fresh);
		/* Counted before it is logged: what reads the log sees it. */
		metrics_reload(false);
		log_warn("reload failed: still serving with the running settings");
		return;
	}
	old = policy_slot_get(&s->policy);
	p = policy_new(&fresh.policy, old);
	policy_unref(old);
	if (!p) {
		tls_identity_unref(id);
		serve_config_free(&fresh);
		metrics_reload(false);
		log_warn("reload failed: out of memory: still serving with the "
		         "running policy");
		return;
	}
	if (s->cfg.audit_log && !fresh.audit_log)
		log_msg("reload: no audit-log now: the audit trail goes to "
		        "the log only");
	serve_config_free(&s->cfg);
	s->cfg = fresh;
	/* With no certificate named now, https goes on with the one it has. */
	if (id)
		tls_identity_install(id);
	policy_slot_set(&s->policy, p);
	for (size_t i = 0; i < s->nfds; i++) {
		struct http_config cfg = http_config_for(s, i);

		http_listener_reload(s->listeners[i], &cfg);
	}
	/* The same path again after rotation, or a new one; opened as the
	   service user, who must be able to create it. */
	r = audit_open(s->cfg.audit_log);
	if (r < 0)
		log_warn("reload: --audit-log %s: %s: still appending to the "
		         "file open before", s->cfg.audit_log, strerror(-r));
	metrics_reload(true);
	log_msg("reloaded settings%s%s", s->cfg.config ? " from " : "",
	        s->cfg.config ? s->cfg.config : "");
	keystore_reload(&s->store, "SIGHUP");
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

static bool
is_jwk_name(const char *name, size_t max)
{
	size_t n = strnlen(name, max);

	return n > 4 && strcmp(name + n - 4, ".jwk") == 0;
}

/*
 * Requests see changes to the directory's entries by its times; a key
 * file written in place or given another mode changes no time of the
 * directory: those are read again here.
 */
static void
read_inotify(struct server *s)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool file_changed = false;
	ssize_t n;

	for (unsigned rounds = 0; rounds < 64; rounds++) {
		n = read(s->inofd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (size_t off = 0; off + sizeof(struct inotify_event) <= (size_t)n;) {
			const struct inotify_event *e =
				(const void *)(buf + off);

			if (e->len > 0 && (e->mask & (IN_CLOSE_WRITE | IN_ATTRIB)) &&
			    is_jwk_name(e->name, e->len))
				file_changed = true;
			off += sizeof(*e) + e->len;
		}
	}
	if (file_changed) {
		keystore_changed(&s->store);
		keyset_unref(keystore_get(&s->store));
	}
}

static void
event_loop(struct server *s)
{
	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = s->sigfd, .events = POLLIN },
			{ .fd = s->inofd, .events = POLLIN },
			{ .fd = notify_report_fd(), .events = POLLIN },
		};

		if (poll(pfd, 3, -1) < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			return;
		}
		if (pfd[0].revents & POLLIN) {
			if (read_signal(s))
				return;
			reload(s);
		}
		if (pfd[1].revents & POLLIN)
			read_inotify(s);
		if (pfd[2].revents & (POLLIN | POLLHUP))
			notify_read_reports();
	}
}

/*
 * Started as root: the files the server reads again later go to the
 * service user, then root is given up before any request is served.
 */
static int
become_service_user(struct server *s)
{
	/* Each is read again on SIGHUP, by then as the service user. */
	const char *files[] = { s->cfg.clients, s->cfg.audit_log,
	                        s->cfg.tls_cert, s->cfg.tls_key };
	const struct service_user *u = &s->user;
	char approvals[4096];
	int r;

	if (!s->as_root)
		return 0;
	r = privilege_adopt_dir(s->dirfd, s->cfg.keys, u);
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(files); i++)
		if (files[i])
			r = privilege_adopt_file(files[i], u);
	/* Written by the server too, when a held recovery comes. */
	if (r == 0 && s->cfg.clients &&
	    snprintf(approvals, sizeof(approvals), "%s" APPROVALS_SUFFIX,
	             s->cfg.clients) < (int)sizeof(approvals))
		r = privilege_adopt_file(approvals, u);
	/* Revocation is read from it: unreadable later, nobody recovers. */
	if (r == 0 && s->cfg.clients)
		r = privilege_check_readable(s->cfg.clients, u);
	if (r == 0)
		r = privilege_drop(u);
	if (r == 0)
		log_msg("running as %s (uid %u)", u->name, (unsigned)u->uid);
	return r;
}

/* Everything that can refuse the settings, before any key is created. */
static int
prepare(struct server *s)
{
	struct tls_identity *id;
	int r = load_tls(&s->cfg, &id);
	struct policy *p;

	s->tls_ready = id != NULL;
	tls_identity_install(id);

	/* Looked up now, so that a missing user refuses the settings. */
	s->as_root = geteuid() == 0;
	if (r == 0 && s->as_root)
		r = privilege_lookup(s->cfg.user, &s->user);
	if (r == 0 && s->cfg.clients) {
		r = client_registry_open(&s->clients, s->cfg.clients);
		s->registry_ready = r == 0;
	}
	if (r == 0 && s->cfg.audit_log) {
		r = audit_open(s->cfg.audit_log);
		if (r < 0)
			log_err("--audit-log %s: %s", s->cfg.audit_log,
			        strerror(-r));
	}
	if (r == 0) {
		p = policy_new(&s->cfg.policy, NULL);
		r = p ? 0 : -ENOMEM;
		policy_slot_set(&s->policy, p);
	}
	return r == 0 ? open_sockets(s) : r;
}

int
cmd_serve(int argc, char **argv)
{
	struct server s = { .dirfd = -1, .sigfd = -1, .inofd = -1,
	                    .metrics_fd = -1, .argc = argc, .argv = argv };
	int r;

	r = serve_config_load(argc, argv, &s.cfg);
	if (r != 0) {
		serve_config_free(&s.cfg);
		return r > 0 ? 0 : 2;
	}
	pthread_mutex_init(&s.policy.lock, NULL);
	metrics_reset();
	/* Everything that can refuse comes before anything is written: the
	   first key pair, a key file's mode, the owners of the files. */
	r = prepare(&s);
	if (r == 0) {
		s.dirfd = keydir_open(s.cfg.keys);
		r = s.dirfd < 0 ? s.dirfd : 0;
	}
	if (r == 0 && s.as_root)
		r = privilege_check_dir(s.dirfd, s.cfg.keys, &s.user);
	if (r == 0) {
		/* Watched by path, so before its parents may be out of reach. */
		r = watch_signals(&s);
		if (r == 0)
			r = watch_directory(&s, s.cfg.keys);
		if (r < 0)
			log_err("cannot watch signals or %s: %s", s.cfg.keys,
			        strerror(-r));
	}
	if (r == 0) {
		r = keystore_open(&s.store, s.cfg.keys,
		                  KEYSTORE_CREATE | KEYSTORE_LOG_RELOADS,
		                  s.as_root ? KEYSET_TIGHTEN : 0);
		s.store_open = true;
	}
	if (r == 0)
		r = become_service_user(&s);
	/* As the service user: a state file it writes stays its own. */
	if (r == 0 && s.registry_ready)
		client_registry_on_load(&s.clients, forget_removed);
	/* Forked as the service user, while this is the only thread. */
	if (r == 0)
		r = notify_start(&(struct notify_config){
			.program = s.cfg.notify, .timeout = s.cfg.notify_timeout,
			.max_running = s.cfg.notify_max });
	/* Giving the keys to the user changed the directory: not news. */
	if (r == 0)
		drain_inotify(s.inofd);
	if (r == 0) {
		raise_open_files(&s);
		r = start_listeners(&s);
	}
	if (r == 0)
		r = start_metrics(&s);
	if (r == 0)
		r = sandbox_enter();
	if (r == 0) {
		struct keyset *ks = keystore_get(&s.store);

		log_msg("serving %zu advertised keys (%zu in all) from %s with "
		        "%u threads per listener", ks ? ks->nadvertised : 0,
		        ks ? ks->nkeys : 0, s.cfg.keys, s.cfg.threads);
		if (ks && ks->nexposed)
			log_warn("%zu key file%s readable by others: rotate the "
			         "keys (tetherd keys rotate)", ks->nexposed,
			         ks->nexposed == 1 ? " is" : "s are");
		keyset_unref(ks);
		sd_notify(0, "READY=1\nSTATUS=serving");
		event_loop(&s);
		sd_notify(0, "STOPPING=1");
	}
	metrics_listener_stop(s.metrics);
	if (s.metrics_fd >= 0)
		close(s.metrics_fd);
	for (size_t i = 0; i < s.nfds; i++) {
		http_listener_stop(s.listeners[i]);
		if (s.fds[i] >= 0)
			close(s.fds[i]);
	}
	notify_stop();
	if (s.store_open)
		keystore_close(&s.store);
	policy_slot_set(&s.policy, NULL);
	tls_identity_install(NULL);
	if (s.registry_ready)
		client_registry_close(&s.clients);
	audit_close();
	if (s.inofd >= 0)
		close(s.inofd);
	if (s.sigfd >= 0)
		close(s.sigfd);
	if (s.dirfd >= 0)
		close(s.dirfd);
	serve_config_free(&s.cfg);
	return r < 0 ? 1 : 0;
}
