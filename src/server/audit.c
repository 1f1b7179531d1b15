/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/audit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/log.h"
#include "common/util.h"
#include "server/notify.h"

static pthread_mutex_t audit_lock = PTHREAD_MUTEX_INITIALIZER;
static int audit_fd = -1;
static char *audit_path;

static int
open_append(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	              O_NOFOLLOW, 0600);

	return fd < 0 ? -errno : fd;
}

/*
 * The new file is open before the old one is let go, so that a path that
 * cannot be opened leaves the trail where it was: a rotated file is
 * appended to until its successor opens.
 */
int
audit_open(const char *path)
{
	char *name = NULL;
	int fd = -1, old;

	if (path) {
		fd = open_append(path);
		if (fd < 0)
			return fd;
		name = strdup(path);
		if (!name) {
			close(fd);
			return -ENOMEM;
		}
	}
	pthread_mutex_lock(&audit_lock);
	old = audit_fd;
	audit_fd = fd;
	free(audit_path);
	audit_path = name;
	pthread_mutex_unlock(&audit_lock);
	if (old >= 0)
		close(old);
	return 0;
}

void
audit_close(void)
{
	(void)audit_open(NULL);
}

void
audit_address(const struct sockaddr *sa, char *buf, size_t len)
{
	int family;
	const uint8_t *a = sockaddr_ip(sa, &family);

	if (!a || !inet_ntop(family, a, buf, (socklen_t)len))
		snprintf(buf, len, "-");
}

/* RFC 3339 in UTC with milliseconds. */
static void
timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void
write_file(const char *line, size_t len)
{
	ssize_t w;

	pthread_mutex_lock(&audit_lock);
	/* Under the lock: a reload may be replacing the path. */
	if (audit_fd >= 0) {
		w = write(audit_fd, line, len);
		if (w != (ssize_t)len)
			log_err("audit: cannot append to %s: %s", audit_path,
			        w < 0 ? strerror(errno) : "short write");
	}
	pthread_mutex_unlock(&audit_lock);
}

void
audit_write(const struct audit_event *e)
{
	char when[40], addr[INET6_ADDRSTRLEN];
	json_t *o;
	char *text, *line;
	size_t n;

	timestamp(when, sizeof(when));
	audit_address(e->from, addr, sizeof(addr));
	o = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s, s:I, s:s}",
	              "time", when, "event", e->event, "address", addr,
	              "client", e->client && *e->client ? e->client : NULL,
	              "kid", e->kid && *e->kid ? e->kid : NULL,
	              "outcome", e->outcome, "status", (json_int_t)e->status,
	              "reason", e->reason);
	text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER |
	                      JSON_ENSURE_ASCII) : NULL;
	json_decref(o);
	if (!text) {
		log_err("audit: out of memory for a %s event", e->event);
		return;
	}
	log_line("%s", text);
	n = strlen(text);
	notify_event(e, addr, text, n);
	line = realloc(text, n + 2);
	if (line) {
		text = line;
		text[n] = '\n';
		text[n + 1] = '\0';
		write_file(text, n + 1);
	}
	free(text);
}
