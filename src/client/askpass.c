/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * tether luks askpass: an agent of systemd's password protocol, for
 * dracut's systemd initramfs. systemd-cryptsetup tries the LUKS tokens
 * first (the token plugin among them) and, when they fail because the
 * network is not up yet, asks for a passphrase: a file ask.* in ASK_DIR
 * names the volume and the datagram socket the answer goes to. For each
 * request of a volume with clevis bindings the agent recovers the key,
 * retrying with back-off while the network comes up, and answers; the
 * console agent asks for the passphrase at the same time, and the first
 * answer opens the volume.
 *
 * It sleeps in poll(2) until a request, a network change (rtnetlink), a
 * link dracut finished (a file in /tmp) or a try is due: under emulation,
 * on one processor, a shell loop's processes took seconds from udev and
 * the DHCP client.
 */
#include "client/askpass.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client/binding.h"
#include "client/luks.h"
#include "common/log.h"
#include "common/util.h"

#define ASK_DIR "/run/systemd/ask-password"
/* dracut's legacy handler marks each link it configured here. */
#define NET_MARK_DIR "/tmp"
#define LEGACY_IFUP "/sbin/ifup"
#define ASK_FILE_MAX 4096
#define CMDLINE_MAX 4096
#define VOLUMES_MAX 64
/* Seconds before a key sent is taken as not having opened its volume. */
#define OPEN_WAIT 60
/* Keys sent per volume: a request that took systemd's cached passphrase
   instead of ours is asked again, once. */
#define ANSWERS_MAX 2

struct request {
	char name[NAME_MAX + 1];   /* ask.XXXX */
	char dev[PATH_MAX];        /* from Id=cryptsetup:DEV */
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	long pid;
};

enum volume_state { VOLUME_WAITING, VOLUME_UNBOUND, VOLUME_DONE };

struct volume {
	char dev[PATH_MAX];
	char name[NAME_MAX + 1];     /* the mapping, for messages */
	enum volume_state state;
	bool pending;                /* a request of it waits */
	double next;                 /* when to try again (boot time, s) */
	unsigned delay;              /* the wait after the next failure */
	unsigned answers;
	int slot;                    /* the binding that answered */
	double answered_at;          /* 0: no answer waits to be seen */
	char answered_ask[NAME_MAX + 1];
};

struct agent {
	struct volume volumes[VOLUMES_MAX];
	size_t n;
	double route_since;          /* a default route stands since, or 0 */
	uint64_t net_state;          /* network_state() when last read */
};

static double
now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Copies a value into a fixed field; false when it does not fit. */
static bool
copy_field(char *dst, size_t size, const char *src)
{
	size_t len = strlen(src);

	if (len == 0 || len >= size)
		return false;
	memcpy(dst, src, len + 1);
	return true;
}

static int
request_line(char *line, void *arg)
{
	struct request *q = arg;
	unsigned long pid;

	if (strncmp(line, "Id=cryptsetup:", 14) == 0) {
		if (!copy_field(q->dev, sizeof(q->dev), line + 14) ||
		    q->dev[0] != '/')
			return -EINVAL;
	} else if (strncmp(line, "Socket=", 7) == 0) {
		if (!copy_field(q->sock, sizeof(q->sock), line + 7) ||
		    q->sock[0] != '/')
			return -EINVAL;
	} else if (strncmp(line, "PID=", 4) == 0) {
		if (parse_ulong(line + 4, 1, INT_MAX, &pid) < 0)
			return -EINVAL;
		q->pid = (long)pid;
	}
	return 0;
}

/*
 * Reads request name of ASK_DIR: 0 for a cryptsetup request, 1 for a
 * request of something else or a file that is not root's, -errno.
 */
static int
request_read(int dirfd, const char *name, struct request *q)
{
	char line[PATH_MAX + 32];
	struct stat st;
	char *text;
	size_t len, n;
	int fd, r;

	memset(q, 0, sizeof(*q));
	if (!copy_field(q->name, sizeof(q->name), name))
		return 1;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_uid != 0) {
		close(fd);
		return 1;
	}
	r = read_file_fd(fd, ASK_FILE_MAX, &text, &len);
	close(fd);
	if (r < 0)
		return r;
	r = text_each_line(text, len, line, sizeof(line), request_line, q, &n);
	free(text);
	if (r < 0 || !q->dev[0] || !q->sock[0])
		return 1;
	return 0;
}

/* The mapping systemd-cryptsetup (pid) attaches: "systemd-cryptsetup
   attach NAME SOURCE ...". */
static void
volume_name(long pid, const char *dev, char *out, size_t size)
{
	char path[64], *p;
	uint8_t *text;
	size_t len;
	int fd, field = 0;

	if (!copy_field(out, size, dev))
		copy_field(out, size, "volume");
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (read_fd(fd, CMDLINE_MAX, &text, &len) < 0) {
		close(fd);
		return;
	}
	close(fd);
	for (p = (char *)text; p < (char *)text + len; p += strlen(p) + 1) {
		if (++field == 3) {
			copy_field(out, size, p);
			break;
		}
	}
	free_secret(text, len + 1);
}

static struct volume *
volume_get(struct agent *ag, const struct request *q)
{
	struct volume *v;

	for (size_t i = 0; i < ag->n; i++)
		if (strcmp(ag->volumes[i].dev, q->dev) == 0)
			return &ag->volumes[i];
	if (ag->n == VOLUMES_MAX)
		return NULL;
	v = &ag->volumes[ag->n++];
	memset(v, 0, sizeof(*v));
	memcpy(v->dev, q->dev, sizeof(v->dev));
	volume_name(q->pid, q->dev, v->name, sizeof(v->name));
	v->delay = 1;
	v->slot = -1;
	return v;
}

/* A default route off the loopback, IPv4 or IPv6 (the kernel keeps an
   unreachable IPv6 one on lo). */
static bool
default_route(void)
{
	char line[256], dev[16], dst[40], plen[4];
	bool found = false;
	FILE *f;

	f = fopen("/proc/net/route", "re");
	while (f && !found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%15s %39s", dev, dst) == 2 &&
		        strcmp(dst, "00000000") == 0 && strcmp(dev, "lo") != 0;
	if (f)
		fclose(f);
	f = found ? NULL : fopen("/proc/net/ipv6_route", "re");
	while (f && !found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%39s %3s %*s %*s %*s %*s %*s %*s %*s %15s",
		               dst, plen, dev) == 3 &&
		        strspn(dst, "0") == 32 && strcmp(plen, "00") == 0 &&
		        strcmp(dev, "lo") != 0;
	if (f)
		fclose(f);
	return found;
}

static bool
link_marked(void)
{
	struct dirent *e;
	bool found = false;
	DIR *d = opendir(NET_MARK_DIR);
	size_t len;

	while (d && !found && (e = readdir(d))) {
		len = strlen(e->d_name);
		found = strncmp(e->d_name, "net.", 4) == 0 && len > 14 &&
		        strcmp(e->d_name + len - 10, ".did-setup") == 0;
	}
	if (d)
		closedir(d);
	return found;
}

/*
 * Before the network is ready every try fails. dracut's legacy handler
 * marks each link it has configured (address, routes, name servers); a
 * router advertisement makes an IPv6 default route well before that,
 * while the servers may be on IPv4, so under that handler a default
 * route alone counts once it has stood ASKPASS_ROUTE_GRACE s (an IPv6-only
 * link, which DHCP never marks). Other handlers mark nothing.
 */
static bool
network_ready(struct agent *ag, double t)
{
	if (link_marked())
		return true;
	if (!default_route()) {
		ag->route_since = 0;
		return false;
	}
	if (access(LEGACY_IFUP, X_OK) != 0)
		return true;
	if (ag->route_since == 0)
		ag->route_since = t;
	return t - ag->route_since >= ASKPASS_ROUTE_GRACE;
}

/* Sends "+KEY" to the request's socket, as systemd-reply-password does. */
static int
reply(const struct request *q, const char *key, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *msg;
	ssize_t sent;
	int fd, r = 0;

	/* A binding's key is one short line of text: no NUL, nothing long. */
	if (memchr(key, '\0', len) || len > 4096)
		return -EINVAL;
	memcpy(sa.sun_path, q->sock, strlen(q->sock) + 1);
	msg = malloc(len + 2);
	if (!msg)
		return -ENOMEM;
	msg[0] = '+';
	memcpy(msg + 1, key, len);
	msg[len + 1] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
	} else {
		sent = sendto(fd, msg, len + 2, MSG_NOSIGNAL,
		              (struct sockaddr *)&sa, sizeof(sa));
		if (sent < 0)
			r = -errno;
		else if ((size_t)sent != len + 2)
			r = -EIO;
		close(fd);
	}
	free_secret(msg, len + 2);
	return r;
}

enum try_result {
	TRY_ANSWERED,
	TRY_NO_KEY,       /* no binding gave a key (or the header is unread) */
	TRY_UNBOUND,      /* the volume has no clevis binding */
	TRY_GONE,         /* the request went before the answer (answered,
	                     or it took systemd's cached passphrase) */
};

/* One try for one volume: recovers a key through its bindings and
   answers q. */
static enum try_result
try_volume(struct volume *v, const struct request *q)
{
	enum try_result res = TRY_NO_KEY;
	struct crypt_device *cd;
	struct binding *all;
	char *key;
	size_t n, len;
	int r;

	if (luks_open(v->dev, &cd) < 0)
		return TRY_NO_KEY;
	r = bindings_load(cd, &all, &n);
	if (r < 0) {
		log_err("%s: cannot read its bindings: %s", v->dev, strerror(-r));
		crypt_free(cd);
		return TRY_NO_KEY;
	}
	if (n == 0)
		res = TRY_UNBOUND;
	for (size_t i = 0; i < n && res == TRY_NO_KEY; i++) {
		if (luks_recover(cd, &all[i], &key, &len) < 0)
			continue;
		r = reply(q, key, len);
		free_secret(key, len);
		if (r == -ENOENT || r == -ECONNREFUSED) {
			res = TRY_GONE;
		} else if (r < 0) {
			log_err("%s: the answer could not be sent: %s", v->name,
			        strerror(-r));
		} else {
			v->slot = all[i].slot;
			res = TRY_ANSWERED;
		}
	}
	bindings_free(all, n);
	crypt_free(cd);
	return res;
}

/* *ready: -1 until network_ready() is asked, once per pass. */
static void
volume_answer(struct agent *ag, struct volume *v, const struct request *q,
              double t, int *ready)
{
	if (v->answered_at != 0) {
		if (strcmp(q->name, v->answered_ask) == 0)
			return;
		/* Asked again: the key did not open it, or the request had
		   taken systemd's cached passphrase before it came. */
		v->answered_at = 0;
		if (v->answers >= ANSWERS_MAX) {
			log_line("tether: %s: the recovered key did not open it; "
			         "waiting for the passphrase", v->name);
			v->state = VOLUME_DONE;
			return;
		}
		v->next = 0;
	}
	if (t < v->next)
		return;
	if (*ready < 0)
		*ready = network_ready(ag, t);
	if (!*ready)
		return;
	switch (try_volume(v, q)) {
	case TRY_ANSWERED:
		v->answers++;
		v->answered_at = t;
		memcpy(v->answered_ask, q->name, sizeof(v->answered_ask));
		break;
	case TRY_UNBOUND:
		log_line("tether: %s: no clevis binding on %s; waiting for the "
		         "passphrase", v->name, v->dev);
		v->state = VOLUME_UNBOUND;
		break;
	case TRY_GONE:
		/* A request that follows is answered at once. */
		v->next = 0;
		break;
	case TRY_NO_KEY:
		log_line("tether: %s: no server gave a key; next try in %u s "
		         "(the passphrase works meanwhile)", v->name, v->delay);
		v->next = t + v->delay;
		v->delay = v->delay * 2 > ASKPASS_BACKOFF_MAX ?
		           ASKPASS_BACKOFF_MAX : v->delay * 2;
		break;
	}
}

/* An answered volume is open, or has been given up on. */
static void
volume_check_open(struct volume *v, double t)
{
	char path[PATH_MAX];

	if (v->state != VOLUME_WAITING || v->answered_at == 0)
		return;
	snprintf(path, sizeof(path), "/dev/mapper/%s", v->name);
	if (access(path, F_OK) == 0) {
		log_line("tether: %s unlocked through slot %d, %.2f s after "
		         "kernel start", v->name, v->slot, t);
		v->state = VOLUME_DONE;
	} else if (t - v->answered_at > OPEN_WAIT) {
		log_line("tether: %s: not open %d s after its key was sent; "
		         "waiting for the passphrase", v->name, OPEN_WAIT);
		v->state = VOLUME_DONE;
	}
}

/* One pass over the pending requests. */
static void
agent_pass(struct agent *ag)
{
	struct request q;
	struct dirent *e;
	struct volume *v;
	double t = now();
	int ready = -1;
	DIR *d;

	for (size_t i = 0; i < ag->n; i++)
		ag->volumes[i].pending = false;
	d = opendir(ASK_DIR);
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, "ask.", 4) != 0 ||
		    request_read(dirfd(d), e->d_name, &q) != 0)
			continue;
		v = volume_get(ag, &q);
		if (!v || v->state != VOLUME_WAITING)
			continue;
		v->pending = true;
		volume_answer(ag, v, &q, t, &ready);
	}
	if (d)
		closedir(d);
	for (size_t i = 0; i < ag->n; i++)
		volume_check_open(&ag->volumes[i], now());
}

/*
 * How long poll may sleep, in ms: until the next try of a volume whose
 * request waits, a short while when an answer waits to be seen or the
 * network's readiness is a matter of time, or until something happens.
 */
static int
agent_timeout(const struct agent *ag)
{
	double t = now(), wait = -1;

	for (size_t i = 0; i < ag->n; i++) {
		const struct volume *v = &ag->volumes[i];
		double w;

		if (v->state != VOLUME_WAITING ||
		    (!v->pending && v->answered_at == 0))
			continue;
		if (v->answered_at != 0)
			w = 0.2;
		else
			w = v->next > t ? v->next - t : 1;
		if (wait < 0 || w < wait)
			wait = w;
	}
	return wait < 0 ? -1 : (int)(wait * 1000) + 1;
}

static int
netlink_open(void)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE |
		             RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE,
	};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
	                NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* FNV-1a over the words of a line that name a route or an address:
   not the counters, flags and lifetimes, which change by themselves. */
static uint64_t
hash_words(uint64_t h, const char *line, const int *words, size_t n)
{
	const char *p = line;

	for (int w = 0; *p; w++) {
		size_t len;
		bool keep = false;

		p += strspn(p, " \t\n");
		len = strcspn(p, " \t\n");
		for (size_t i = 0; i < n; i++)
			keep |= words[i] == w;
		for (size_t i = 0; keep && i <= len; i++) {
			h ^= i < len ? (unsigned char)p[i] : ' ';
			h *= 1099511628211ULL;
		}
		p += len;
	}
	return h;
}

/* The routes (an IPv4 address brings its subnet's) and the IPv6
   addresses: when they change, a server out of reach may answer now. */
static uint64_t
network_state(void)
{
	static const int route[] = { 0, 1, 2, 7 };
	static const int route6[] = { 0, 1, 4, 9 };
	static const int addr6[] = { 0, 2, 3, 5 };
	static const struct {
		const char *path;
		const int *words;
		size_t n;
	} files[] = {
		{ "/proc/net/route", route, ARRAY_SIZE(route) },
		{ "/proc/net/ipv6_route", route6, ARRAY_SIZE(route6) },
		{ "/proc/net/if_inet6", addr6, ARRAY_SIZE(addr6) },
	};
	uint64_t h = 14695981039346656037ULL;
	char line[256];

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		FILE *f = fopen(files[i].path, "re");

		while (f && fgets(line, sizeof(line), f))
			h = hash_words(h, line, files[i].words, files[i].n);
		if (f)
			fclose(f);
	}
	return h;
}

/* A change of routes or addresses starts every volume's delays over. */
static void
network_changed(struct agent *ag)
{
	uint64_t state = network_state();

	if (state == ag->net_state)
		return;
	ag->net_state = state;
	for (size_t i = 0; i < ag->n; i++) {
		ag->volumes[i].next = 0;
		ag->volumes[i].delay = 1;
	}
}

/* Empties a non-blocking descriptor; true when anything was read, or
   lost (a netlink socket whose buffer overflowed). */
static bool
drain(int fd)
{
	char buf[8192];
	bool any = false;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0 ||
	       (n < 0 && errno == ENOBUFS))
		any = true;
	return any;
}

int
askpass_run(void)
{
	struct agent *ag;
	struct pollfd fds[2];
	int r;

	ag = calloc(1, sizeof(*ag));
	if (!ag)
		return -ENOMEM;
	if (mkdir(ASK_DIR, 0755) < 0 && errno != EEXIST)
		log_warn("%s: %s", ASK_DIR, strerror(errno));
	fds[0].fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	r = fds[0].fd < 0 ? -errno : 0;
	fds[1].fd = netlink_open();
	if (r == 0 && fds[1].fd < 0)
		r = fds[1].fd;
	if (r == 0 && inotify_add_watch(fds[0].fd, ASK_DIR, IN_CLOSE_WRITE |
	                                IN_MOVED_TO | IN_DELETE |
	                                IN_MOVED_FROM) < 0)
		r = -errno;
	if (r < 0) {
		log_err("askpass: cannot watch %s and the network: %s", ASK_DIR,
		        strerror(-r));
		goto out;
	}
	/* Absent in a system that is not dracut's: nothing to wait for. */
	(void)inotify_add_watch(fds[0].fd, NET_MARK_DIR, IN_CREATE |
	                        IN_MOVED_TO);
	fds[0].events = fds[1].events = POLLIN;
	ag->net_state = network_state();
	for (;;) {
		agent_pass(ag);
		if (poll(fds, 2, agent_timeout(ag)) < 0 && errno != EINTR) {
			r = -errno;
			log_err("askpass: %s", strerror(-r));
			goto out;
		}
		if (fds[0].revents)
			drain(fds[0].fd);
		if (fds[1].revents && drain(fds[1].fd))
			network_changed(ag);
	}
out:
	if (fds[0].fd >= 0)
		close(fds[0].fd);
	if (fds[1].fd >= 0)
		close(fds[1].fd);
	free(ag);
	return r;
}
