/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/approvals.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

/* A line: a name, a word, an address, a kid and two numbers. */
#define APPROVAL_LINE_MAX (CLIENT_NAME_MAX + INET6_ADDRSTRLEN + \
	JWK_THP_MAX + 64)
#define APPROVALS_FILE_MAX (APPROVALS_MAX * APPROVAL_LINE_MAX)

static const char *const state_words[] = {
	[APPROVAL_PENDING] = "pending", [APPROVAL_ONCE] = "once",
	[APPROVAL_UNTIL] = "until", [APPROVAL_DENIED] = "denied",
	[APPROVAL_SEEN] = "seen",
};

static bool
only_of(const char *s, const char *set, size_t max)
{
	size_t n = strspn(s, set);

	return n > 0 && n <= max && s[n] == '\0';
}

static int
parse_time(const char *s, long long *out)
{
	unsigned long v;

	if (parse_ulong(s, 0, 1UL << 40, &v) < 0)
		return -EINVAL;
	*out = (long long)v;
	return 0;
}

/* Splits line at spaces into at most max words; returns how many. */
static size_t
split(char *line, char **words, size_t max)
{
	size_t n = 0;

	while (n < max) {
		words[n++] = line;
		line = strchr(line, ' ');
		if (!line)
			return n;
		*line++ = '\0';
	}
	return max + 1;		/* more than max */
}

/* The one time of a line that has one: "until" and "seen" keep it in
   last, "once" and "denied" in first. */
static bool
keeps_last(enum approval_state state)
{
	return state == APPROVAL_UNTIL || state == APPROVAL_SEEN;
}

static int
parse_line(char *line, struct approval *a)
{
	char *w[6];
	size_t n = split(line, w, 6);

	memset(a, 0, sizeof(*a));
	if (n < 3 || n > 6 || !client_name_valid(w[0]))
		return -EINVAL;
	memcpy(a->name, w[0], strlen(w[0]) + 1);
	if (strcmp(w[1], "pending") == 0 && n == 6) {
		if (!only_of(w[2], "0123456789abcdefABCDEF.:", INET6_ADDRSTRLEN - 1) ||
		    !only_of(w[3], "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		             "abcdefghijklmnopqrstuvwxyz_-", JWK_THP_MAX) ||
		    parse_time(w[4], &a->first) < 0 ||
		    parse_time(w[5], &a->last) < 0)
			return -EINVAL;
		a->state = APPROVAL_PENDING;
		memcpy(a->address, w[2], strlen(w[2]) + 1);
		memcpy(a->kid, w[3], strlen(w[3]) + 1);
		return 0;
	}
	if (n != 3)
		return -EINVAL;
	if (strcmp(w[1], "once") == 0)
		a->state = APPROVAL_ONCE;
	else if (strcmp(w[1], "denied") == 0)
		a->state = APPROVAL_DENIED;
	else if (strcmp(w[1], "until") == 0)
		a->state = APPROVAL_UNTIL;
	else if (strcmp(w[1], "seen") == 0)
		a->state = APPROVAL_SEEN;
	else
		return -EINVAL;
	return parse_time(w[2], keeps_last(a->state) ? &a->last : &a->first);
}

/* One line into the list: -EINVAL for a bad line or a name twice. */
static int
add_line(char *buf, void *arg)
{
	struct approval_list *l = arg;
	struct approval a;

	if (parse_line(buf, &a) < 0 ||
	    approvals_find(l, a.name, a.state == APPROVAL_SEEN))
		return -EINVAL;
	return approvals_set(l, &a) < 0 ? -EINVAL : 0;
}

int
approvals_parse(const char *text, size_t len, struct approval_list *out,
                size_t *line)
{
	struct approval_list l = { 0 };
	char buf[APPROVAL_LINE_MAX];
	int r = text_each_line(text, len, buf, sizeof(buf), add_line, &l, line);

	if (r < 0) {
		approvals_free(&l);
		return -EINVAL;
	}
	*out = l;
	return 0;
}

char *
approvals_format(const struct approval_list *l)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < l->n; i++) {
		const struct approval *a = &l->a[i];

		fprintf(f, "%s %s", a->name, state_words[a->state]);
		if (a->state == APPROVAL_PENDING)
			fprintf(f, " %s %s %lld %lld\n", a->address, a->kid,
			        a->first, a->last);
		else
			fprintf(f, " %lld\n", keeps_last(a->state) ?
			        a->last : a->first);
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

void
approvals_free(struct approval_list *l)
{
	free(l->a);
	l->a = NULL;
	l->n = 0;
}

struct approval *
approvals_find(const struct approval_list *l, const char *name, bool seen)
{
	for (size_t i = 0; i < l->n; i++)
		if ((l->a[i].state == APPROVAL_SEEN) == seen &&
		    strcmp(l->a[i].name, name) == 0)
			return &l->a[i];
	return NULL;
}

int
approvals_set(struct approval_list *l, const struct approval *a)
{
	struct approval *have = approvals_find(l, a->name,
	                                       a->state == APPROVAL_SEEN);
	struct approval *grown;

	if (have) {
		*have = *a;
		return 0;
	}
	/* A decision and a heartbeat for each client. */
	if (l->n == 2 * APPROVALS_MAX)
		return -ENOSPC;
	grown = realloc(l->a, (l->n + 1) * sizeof(*l->a));
	if (!grown)
		return -ENOMEM;
	l->a = grown;
	l->a[l->n++] = *a;
	return 0;
}

void
approvals_remove(struct approval_list *l, const char *name, bool seen)
{
	struct approval *a = approvals_find(l, name, seen);

	if (a)
		*a = l->a[--l->n];
}

int
approvals_lock(const char *clients_path, struct approvals_file *f)
{
	char dir[4096], base[4096];
	int n;

	f->dirfd = -1;
	f->clients_path = clients_path;
	if (snprintf(dir, sizeof(dir), "%s", clients_path) >= (int)sizeof(dir) ||
	    snprintf(base, sizeof(base), "%s", clients_path) >= (int)sizeof(base))
		return -ENAMETOOLONG;
	n = snprintf(f->base, sizeof(f->base), "%s" APPROVALS_SUFFIX,
	             basename(base));
	if (n < 0 || (size_t)n >= sizeof(f->base))
		return -ENAMETOOLONG;
	f->dirfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->dirfd < 0)
		return -errno;
	while (flock(f->dirfd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int r = -errno;

			approvals_unlock(f);
			return r;
		}
	}
	return 0;
}

int
approvals_read(struct approvals_file *f, struct approval_list *l)
{
	char *text;
	size_t len, line;
	int r = read_file_at(f->dirfd, f->base, APPROVALS_FILE_MAX, &text, &len);

	if (r == -ENOENT) {
		*l = (struct approval_list){ 0 };
		return 0;
	}
	if (r < 0)
		return r;
	r = approvals_parse(text, len, l, &line);
	free(text);
	if (r == -EINVAL)
		log_err("%s" APPROVALS_SUFFIX ": line %zu is malformed",
		        f->clients_path, line);
	return r;
}

int
approvals_write(struct approvals_file *f, const struct approval_list *l,
                uid_t uid, gid_t gid)
{
	char *text = approvals_format(l);
	int r = text ? replace_file_at(f->dirfd, f->base, text, strlen(text),
	                               0600) : -ENOMEM;

	free(text);
	/* Given to the server's user before anyone but root could use it:
	   until then it is root's, mode 0600. */
	if (r == 0 && uid != (uid_t)-1 &&
	    fchownat(f->dirfd, f->base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	if (r < 0)
		log_err("%s" APPROVALS_SUFFIX ": cannot write: %s",
		        f->clients_path, strerror(-r));
	return r;
}

void
approvals_unlock(struct approvals_file *f)
{
	if (f->dirfd >= 0)
		close(f->dirfd);	/* and with it the lock */
	f->dirfd = -1;
}

bool
approvals_expired(const struct approval *seen, unsigned long heartbeat,
                  long long now)
{
	return heartbeat && seen && now - seen->last > (long long)heartbeat;
}

/* The decision on ask given its lines in l; changes l as the decision
   records it; *changed when it did. A "once" is used up only with
   use_once. */
static enum approval_decision
decide(struct approval_list *l, const struct approval_ask *ask, bool use_once,
       bool *changed)
{
	struct approval *a = approvals_find(l, ask->name, false);
	const struct approval *seen = approvals_find(l, ask->name, true);
	bool expired = approvals_expired(seen, ask->heartbeat, ask->now);
	struct approval pending = { .state = APPROVAL_PENDING };

	*changed = false;
	if (a && a->state == APPROVAL_DENIED)
		return APPROVAL_REFUSED;
	if (a && a->state == APPROVAL_UNTIL && ask->now < a->last)
		return APPROVAL_GRANTED;
	if (a && a->state == APPROVAL_ONCE) {
		if (!use_once)
			return APPROVAL_GRANTED_ONCE;
		*changed = true;
		approvals_remove(l, ask->name, false);
		return APPROVAL_GRANTED;
	}
	if (!ask->approval && !expired)
		return APPROVAL_GRANTED;
	/* Held: listed for an operator, who approves to let it go. */
	*changed = true;
	snprintf(pending.name, sizeof(pending.name), "%s", ask->name);
	snprintf(pending.address, sizeof(pending.address), "%s", ask->address);
	snprintf(pending.kid, sizeof(pending.kid), "%s", ask->kid);
	pending.first = a && a->state == APPROVAL_PENDING ? a->first : ask->now;
	pending.last = ask->now;
	if (approvals_set(l, &pending) < 0)
		return APPROVAL_UNAVAILABLE;
	return expired ? APPROVAL_EXPIRED : APPROVAL_HELD;
}

static enum approval_decision
decide_keeping_once(struct approval_list *l, const struct approval_ask *ask,
                    bool *changed)
{
	return decide(l, ask, false, changed);
}

static enum approval_decision
decide_using_once(struct approval_list *l, const struct approval_ask *ask,
                  bool *changed)
{
	return decide(l, ask, true, changed);
}

/* A heartbeat: recorded unless the client's presence expired. */
static enum approval_decision
beat(struct approval_list *l, const struct approval_ask *ask, bool *changed)
{
	struct approval seen = { .state = APPROVAL_SEEN, .last = ask->now };

	*changed = false;
	if (approvals_expired(approvals_find(l, ask->name, true),
	                      ask->heartbeat, ask->now))
		return APPROVAL_EXPIRED;
	snprintf(seen.name, sizeof(seen.name), "%s", ask->name);
	*changed = true;
	return approvals_set(l, &seen) < 0 ? APPROVAL_UNAVAILABLE
	                                   : APPROVAL_GRANTED;
}

/* Reads the state of clients_path, applies fn, writes what it changed,
   all under the lock. */
static enum approval_decision
update(const char *clients_path, const struct approval_ask *ask,
       enum approval_decision (*fn)(struct approval_list *l,
                                    const struct approval_ask *ask,
                                    bool *changed))
{
	struct approvals_file f;
	struct approval_list l = { 0 };
	enum approval_decision d = APPROVAL_UNAVAILABLE;
	bool changed = false;
	int r;

	r = approvals_lock(clients_path, &f);
	if (r == 0)
		r = approvals_read(&f, &l);
	if (r == 0)
		d = fn(&l, ask, &changed);
	/* A use of "once" that cannot be recorded would approve again. */
	if (r == 0 && changed && approvals_write(&f, &l, (uid_t)-1, 0) < 0)
		d = APPROVAL_UNAVAILABLE;
	if (r < 0 && r != -EINVAL)
		log_err("%s" APPROVALS_SUFFIX ": %s: approving nothing",
		        clients_path, strerror(-r));
	approvals_unlock(&f);
	approvals_free(&l);
	return d;
}

enum approval_decision
approvals_decide(const char *clients_path, const struct approval_ask *ask)
{
	return update(clients_path, ask, decide_keeping_once);
}

enum approval_decision
approvals_use_once(const char *clients_path, const struct approval_ask *ask)
{
	return update(clients_path, ask, decide_using_once);
}

/* Whether the line of a is to go: its client is not in keep, or it is
   name's. */
static bool
forgotten(const struct approval *a, const struct client_list *keep,
          const char *name)
{
	return keep ? clients_find(keep, a->name) == NULL
	            : strcmp(a->name, name) == 0;
}

int
approvals_forget(const char *clients_path, const struct client_list *keep,
                 const char *name, uid_t uid, gid_t gid)
{
	struct approvals_file f;
	struct approval_list l = { 0 };
	size_t kept = 0;
	int r = approvals_lock(clients_path, &f);

	if (r == 0)
		r = approvals_read(&f, &l);
	for (size_t i = 0; r == 0 && i < l.n; i++)
		if (!forgotten(&l.a[i], keep, name))
			l.a[kept++] = l.a[i];
	if (r == 0 && kept < l.n) {
		l.n = kept;
		r = approvals_write(&f, &l, uid, gid);
	}
	if (r < 0 && r != -EINVAL)
		log_err("%s" APPROVALS_SUFFIX ": cannot forget removed clients: "
		        "%s", clients_path, strerror(-r));
	approvals_unlock(&f);
	approvals_free(&l);
	return r;
}

void
approvals_owner(const char *clients_path, uid_t *uid, gid_t *gid)
{
	struct stat st;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (geteuid() == 0 && stat(clients_path, &st) == 0 && st.st_uid != 0) {
		*uid = st.st_uid;
		*gid = st.st_gid;
	}
}

enum approval_decision
approvals_heartbeat(const char *clients_path, const struct approval_ask *ask)
{
	return update(clients_path, ask, beat);
}

size_t
approvals_count_pending(const char *clients_path)
{
	struct approvals_file f;
	struct approval_list l = { 0 };
	size_t n = 0;

	if (approvals_lock(clients_path, &f) == 0 && approvals_read(&f, &l) == 0)
		for (size_t i = 0; i < l.n; i++)
			n += l.a[i].state == APPROVAL_PENDING;
	approvals_unlock(&f);
	approvals_free(&l);
	return n;
}

struct past {
	const struct approval_list *l;
	long long now;
	size_t n;
};

static void
count_past(const struct client *c, void *arg)
{
	struct past *p = arg;

	p->n += approvals_expired(approvals_find(p->l, c->name, true),
	                          c->heartbeat, p->now);
}

size_t
approvals_count_past_heartbeat(struct client_registry *r, long long now)
{
	struct approvals_file f;
	struct approval_list l = { 0 };
	struct past p = { .l = &l, .now = now };
	char path[4096];
	int e = client_registry_path(r, path, sizeof(path));

	if (e == 0)
		e = approvals_lock(path, &f);
	if (e == 0) {
		e = approvals_read(&f, &l);
		approvals_unlock(&f);
	}
	/* The file's lock is let go first: the registry's is never taken
	   inside it. */
	if (e == 0)
		client_registry_each(r, count_past, &p);
	approvals_free(&l);
	return p.n;
}
