/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/clients.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/log.h"
#include "common/util.h"

#define CLIENT_LINE_MAX (CLIENT_NAME_MAX + CLIENT_HASH_HEX + 16 + \
	CLIENT_ALLOW_MAX * (CIDR_TEXT_MAX + 1) + sizeof(CLIENT_APPROVAL_WORD) + \
	sizeof(CLIENT_HEARTBEAT_WORD) + 24)
#define CLIENTS_FILE_MAX (CLIENTS_MAX * CLIENT_LINE_MAX)

bool
client_name_valid(const char *name)
{
	size_t n = 0;

	for (; name[n]; n++)
		if (!(name[n] >= 'a' && name[n] <= 'z') &&
		    !(name[n] >= 'A' && name[n] <= 'Z') &&
		    !(name[n] >= '0' && name[n] <= '9') &&
		    name[n] != '.' && name[n] != '_' && name[n] != '-')
			return false;
	return n > 0 && n <= CLIENT_NAME_MAX;
}

static bool
hash_valid(const char *h)
{
	size_t n = 0;

	for (; h[n]; n++)
		if (!(h[n] >= '0' && h[n] <= '9') && !(h[n] >= 'a' && h[n] <= 'f'))
			return false;
	return n == CLIENT_HASH_HEX;
}

int
client_allow_parse(struct client *c, const char *list)
{
	char one[CIDR_TEXT_MAX];
	const char *p = list;

	c->nallow = 0;
	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == 0 || n >= sizeof(one) || c->nallow == CLIENT_ALLOW_MAX)
			return -EINVAL;
		memcpy(one, p, n);
		one[n] = '\0';
		if (cidr_parse(one, &c->allow[c->nallow++]) < 0)
			return -EINVAL;
		p += n;
		if (*p == ',' && *++p == '\0')
			return -EINVAL;
	}
	return 0;
}

/* "heartbeat=SECONDS", once. */
static bool
parse_heartbeat(const char *word, struct client *c)
{
	size_t n = strlen(CLIENT_HEARTBEAT_WORD);

	return strncmp(word, CLIENT_HEARTBEAT_WORD, n) == 0 && !c->heartbeat &&
	       parse_ulong(word + n, 1, CLIENT_HEARTBEAT_MAX, &c->heartbeat) == 0;
}

/* The words after the hash: a CIDR list first, then approval=manual and
   heartbeat=SECONDS, each at most once. */
static int
parse_options(char *rest, struct client *c)
{
	bool first = true;
	char *word;

	c->nallow = 0;
	c->approval = false;
	c->heartbeat = 0;
	for (; rest; first = false) {
		word = rest;
		rest = strchr(word, ' ');
		if (rest)
			*rest++ = '\0';
		if (strcmp(word, CLIENT_APPROVAL_WORD) == 0 && !c->approval)
			c->approval = true;
		else if (parse_heartbeat(word, c))
			continue;
		else if (first && *word && client_allow_parse(c, word) == 0 &&
		         c->nallow > 0)
			continue;
		else
			return -EINVAL;
	}
	return 0;
}

/* One line: NAME STATE HASH [CIDRS] [approval=manual], single spaces. */
static int
parse_line(char *line, struct client *c)
{
	char *name = line, *state, *hash, *rest;

	state = strchr(name, ' ');
	if (!state)
		return -EINVAL;
	*state++ = '\0';
	hash = strchr(state, ' ');
	if (!hash)
		return -EINVAL;
	*hash++ = '\0';
	rest = strchr(hash, ' ');
	if (rest)
		*rest++ = '\0';
	if (parse_options(rest, c) < 0)
		return -EINVAL;
	if (!client_name_valid(name) || !hash_valid(hash))
		return -EINVAL;
	if (strcmp(state, "enabled") == 0)
		c->enabled = true;
	else if (strcmp(state, "disabled") == 0)
		c->enabled = false;
	else
		return -EINVAL;
	/* Both lengths were checked above. */
	memcpy(c->name, name, strlen(name) + 1);
	memcpy(c->hash, hash, CLIENT_HASH_HEX + 1);
	return 0;
}

/* One line into the list: -EINVAL for a bad line or a name twice. */
static int
add_line(char *buf, void *arg)
{
	struct client_list *l = arg;
	struct client *grown;

	if (l->n == CLIENTS_MAX)
		return -EINVAL;
	grown = realloc(l->c, (l->n + 1) * sizeof(*l->c));
	if (!grown)
		return -ENOMEM;
	l->c = grown;
	if (parse_line(buf, &l->c[l->n]) < 0 || clients_find(l, buf))
		return -EINVAL;
	l->n++;
	return 0;
}

int
clients_parse(const char *text, size_t len, struct client_list *out,
              size_t *line)
{
	struct client_list l = { 0 };
	char buf[CLIENT_LINE_MAX];
	int r = text_each_line(text, len, buf, sizeof(buf), add_line, &l, line);

	if (r < 0) {
		clients_free(&l);
		return r == -ENOMEM ? r : -EINVAL;
	}
	*out = l;
	return 0;
}

void
client_print_rules(FILE *f, const struct client *c)
{
	if (c->approval)
		fputs(" " CLIENT_APPROVAL_WORD, f);
	if (c->heartbeat)
		fprintf(f, " " CLIENT_HEARTBEAT_WORD "%lu", c->heartbeat);
}

void
client_print_allow(FILE *f, const struct client *c)
{
	for (size_t j = 0; j < c->nallow; j++) {
		char cidr[CIDR_TEXT_MAX];

		cidr_format(&c->allow[j], cidr, sizeof(cidr));
		fprintf(f, "%c%s", j ? ',' : ' ', cidr);
	}
}

char *
clients_format(const struct client_list *l)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < l->n; i++) {
		fprintf(f, "%s %s %s", l->c[i].name,
		        l->c[i].enabled ? "enabled" : "disabled", l->c[i].hash);
		client_print_allow(f, &l->c[i]);
		client_print_rules(f, &l->c[i]);
		fputc('\n', f);
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

void
clients_free(struct client_list *l)
{
	free(l->c);
	l->c = NULL;
	l->n = 0;
}

struct client *
clients_find(const struct client_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->c[i].name, name) == 0)
			return &l->c[i];
	return NULL;
}

int
client_token_hash(const char *token, size_t len, char hex[CLIENT_HASH_HEX + 1])
{
	unsigned char md[32];
	unsigned int n = 0;

	if (!EVP_Digest(token, len, md, &n, EVP_sha256(), NULL) || n != 32)
		return -EINVAL;
	for (size_t i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

enum client_check
clients_check(const struct client_list *l, const char *name, const char *token,
              const struct sockaddr *from)
{
	return clients_check_rules(l, name, token, from, NULL);
}

enum client_check
clients_check_rules(const struct client_list *l, const char *name,
                    const char *token, const struct sockaddr *from,
                    struct client_rules *rules)
{
	char hex[CLIENT_HASH_HEX + 1];
	const struct client *c = clients_find(l, name);

	if (client_token_hash(token, strlen(token), hex) < 0)
		return CLIENT_UNKNOWN;
	/* Compared even for an unknown name, so timing says nothing. */
	if (!equal_const_time(hex, c ? c->hash : "", c ? CLIENT_HASH_HEX : 0) ||
	    !c)
		return CLIENT_UNKNOWN;
	if (!c->enabled)
		return CLIENT_DISABLED;
	if (c->nallow && !cidr_any(c->allow, c->nallow, from))
		return CLIENT_ELSEWHERE;
	if (rules)
		*rules = (struct client_rules){ .approval = c->approval,
		                                .heartbeat = c->heartbeat };
	return CLIENT_OK;
}

static int
load_file(const char *path, struct client_list *l)
{
	char *text;
	size_t len, line;
	int r = read_file_at(AT_FDCWD, path, CLIENTS_FILE_MAX, &text, &len);

	if (r == -ENOENT) {
		*l = (struct client_list){ 0 };
		return 0;
	}
	if (r < 0)
		return r;
	r = clients_parse(text, len, l, &line);
	free(text);
	if (r == -EINVAL)
		log_err("%s: line %zu is not 'NAME enabled|disabled SHA256 "
		        "[CIDR,...] [approval=manual] [heartbeat=SECONDS]'", path,
		        line);
	return r;
}

/* A chmod or chown changes only the ctime: it counts as a change. */
static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The file's status, or a zeroed one with the error (0 for a missing
   file, which is an empty list). */
static int
stat_file(const char *path, struct stat *st)
{
	if (stat(path, st) == 0)
		return 0;
	memset(st, 0, sizeof(*st));
	return errno == ENOENT ? 0 : -errno;
}

/* The path and list read, installed under the lock; on failure, logged,
   nothing changes. */
static int
read_registry(const char *path, char **copy, struct stat *st,
              struct client_list *l)
{
	int e = stat_file(path, st);

	if (e == 0)
		e = load_file(path, l);
	if (e == 0 && !(*copy = strdup(path))) {
		clients_free(l);
		e = -ENOMEM;
	}
	if (e < 0)
		log_err("%s: cannot load clients: %s", path, strerror(-e));
	return e;
}

int
client_registry_open(struct client_registry *r, const char *path)
{
	int e;

	memset(r, 0, sizeof(*r));
	e = read_registry(path, &r->path, &r->seen, &r->list);
	if (e < 0)
		return e;
	pthread_mutex_init(&r->lock, NULL);
	return 0;
}

/*
 * Called with the lock held. Fails closed: a file that cannot be read
 * or parsed any more leaves no list to check against, since the last
 * good one may hold a client disabled since. While it is so, it is
 * tried again once a second even unchanged, for errors that pass.
 */
static void
refresh(struct client_registry *r)
{
	struct client_list fresh;
	struct stat st;
	int e = stat_file(r->path, &st);
	unsigned long long now = now_usec();

	if (same_file(&st, &r->seen) && e == r->seen_error &&
	    (!r->unavailable || now - r->tried < 1000000))
		return;
	r->seen = st;
	r->seen_error = e;
	r->tried = now;
	if (e == 0)
		e = load_file(r->path, &fresh);
	if (e < 0) {
		if (!r->unavailable)
			log_err("%s: cannot read the clients now (%s): refusing "
			        "every client until it reads again", r->path,
			        strerror(-e));
		r->unavailable = true;
		return;
	}
	if (r->unavailable)
		log_msg("%s: read again: %zu clients", r->path, fresh.n);
	r->unavailable = false;
	clients_free(&r->list);
	r->list = fresh;
	if (r->loaded)
		r->loaded(r->path, &r->list);
}

int
client_registry_repoint(struct client_registry *r, const char *path)
{
	struct client_list fresh;
	struct stat st;
	char *copy, *old;
	int e = read_registry(path, &copy, &st, &fresh);

	if (e < 0)
		return e;
	pthread_mutex_lock(&r->lock);
	clients_free(&r->list);
	r->list = fresh;
	old = r->path;
	r->path = copy;
	r->seen = st;
	r->seen_error = 0;
	r->unavailable = false;
	if (r->loaded)
		r->loaded(r->path, &r->list);
	pthread_mutex_unlock(&r->lock);
	free(old);
	return 0;
}

void
client_registry_on_load(struct client_registry *r,
                        void (*fn)(const char *path,
                                   const struct client_list *l))
{
	pthread_mutex_lock(&r->lock);
	r->loaded = fn;
	if (fn && !r->unavailable)
		fn(r->path, &r->list);
	pthread_mutex_unlock(&r->lock);
}

enum client_check
client_registry_check(struct client_registry *r, const char *name,
                      const char *token, const struct sockaddr *from,
                      struct client_rules *rules)
{
	enum client_check c;

	pthread_mutex_lock(&r->lock);
	refresh(r);
	c = r->unavailable ? CLIENT_UNAVAILABLE :
	    clients_check_rules(&r->list, name, token, from, rules);
	pthread_mutex_unlock(&r->lock);
	return c;
}

void
client_registry_each(struct client_registry *r,
                     void (*fn)(const struct client *c, void *arg), void *arg)
{
	pthread_mutex_lock(&r->lock);
	refresh(r);
	for (size_t i = 0; !r->unavailable && i < r->list.n; i++)
		fn(&r->list.c[i], arg);
	pthread_mutex_unlock(&r->lock);
}

int
client_registry_path(struct client_registry *r, char *buf, size_t len)
{
	int n;

	pthread_mutex_lock(&r->lock);
	n = snprintf(buf, len, "%s", r->path);
	pthread_mutex_unlock(&r->lock);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

void
client_registry_close(struct client_registry *r)
{
	clients_free(&r->list);
	free(r->path);
	r->path = NULL;
	pthread_mutex_destroy(&r->lock);
}
