/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "common/url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

static bool
is_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

/* RFC 3986 pchar, minus what a Tang path never needs. */
static bool
is_path_char(char c)
{
	return c > 0x20 && c < 0x7f && c != '?' && c != '#' && c != '\\' &&
	       c != '"' && c != '<' && c != '>' && c != '`' && c != '{' &&
	       c != '}' && c != '|' && c != '^';
}

static int
parse_host(const char *s, size_t n, struct url *u)
{
	unsigned char addr[16];

	if (n == 0 || n > URL_HOST_MAX)
		return -EINVAL;
	if (s[0] == '[') {
		if (n < 3 || s[n - 1] != ']' || n - 2 > URL_HOST_MAX)
			return -EINVAL;
		memcpy(u->host, s + 1, n - 2);
		u->host[n - 2] = '\0';
		if (inet_pton(AF_INET6, u->host, addr) != 1)
			return -EINVAL;
		u->ipv6 = true;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (!is_host_char(s[i]))
			return -EINVAL;
	memcpy(u->host, s, n);
	u->host[n] = '\0';
	return 0;
}

static int
parse_port(const char *s, size_t n, struct url *u)
{
	char buf[8];
	unsigned long v;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (parse_ulong(buf, 1, 65535, &v) < 0)
		return -EINVAL;
	snprintf(u->port, sizeof(u->port), "%lu", v);
	return 0;
}

static int
parse_path(const char *s, struct url *u)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++)
		if (!is_path_char(s[i]))
			return -EINVAL;
	while (n > 0 && s[n - 1] == '/')
		n--;
	if (n > URL_PATH_MAX)
		return -EINVAL;
	memcpy(u->path, s, n);
	u->path[n] = '\0';
	return 0;
}

static bool
is_unreserved(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* "NAME:TOKEN", both non-empty, unreserved characters only. */
static int
parse_userinfo(const char *s, size_t n, struct url *u)
{
	const char *colon = memchr(s, ':', n);
	size_t ulen, plen;

	if (!colon)
		return -EINVAL;
	ulen = (size_t)(colon - s);
	plen = n - ulen - 1;
	if (ulen == 0 || plen == 0 || ulen >= sizeof(u->user) ||
	    plen >= sizeof(u->pass))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (i != ulen && !is_unreserved(s[i]))
			return -EINVAL;
	memcpy(u->user, s, ulen);
	u->user[ulen] = '\0';
	memcpy(u->pass, colon + 1, plen);
	u->pass[plen] = '\0';
	return 0;
}

int
url_parse(const char *text, struct url *u)
{
	const char *p = text, *auth_end, *port = NULL, *at;
	size_t host_len;
	int r;

	memset(u, 0, sizeof(*u));
	if (strncmp(p, "http://", 7) == 0) {
		p += 7;
	} else if (strncmp(p, "https://", 8) == 0) {
		u->tls = true;
		p += 8;
	} else if (strstr(p, "://")) {
		return -EINVAL;
	}
	auth_end = p + strcspn(p, "/?#");
	if (*auth_end == '?' || *auth_end == '#')
		return -EINVAL;
	at = memchr(p, '@', (size_t)(auth_end - p));
	if (at) {
		r = parse_userinfo(p, (size_t)(at - p), u);
		if (r < 0)
			return r;
		p = at + 1;
	}
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(auth_end - p));

		if (!close)
			return -EINVAL;
		host_len = (size_t)(close - p) + 1;
		if (close[1] == ':')
			port = close + 2;
		else if (close + 1 != auth_end)
			return -EINVAL;
	} else {
		const char *colon = memchr(p, ':', (size_t)(auth_end - p));

		host_len = colon ? (size_t)(colon - p) : (size_t)(auth_end - p);
		port = colon ? colon + 1 : NULL;
	}
	r = parse_host(p, host_len, u);
	if (r == 0 && port)
		r = parse_port(port, (size_t)(auth_end - port), u);
	else if (r == 0)
		snprintf(u->port, sizeof(u->port), "%s", u->tls ? "443" : "80");
	if (r == 0)
		r = parse_path(auth_end, u);
	/* Basic credentials over plain http would cross the network in
	   clear, as the binding's "client" and "token" may not either. */
	if (r == 0 && u->user[0] && !u->tls)
		r = -EPERM;
	if (r < 0)
		explicit_bzero(u, sizeof(*u));
	return r;
}

int
url_target(const struct url *u, const char *suffix, char *out, size_t len)
{
	int n = snprintf(out, len, "%s%s", u->path, suffix);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

void
url_format(const struct url *u, char *out, size_t len)
{
	snprintf(out, len, "%s://%s%s%s:%s%s", u->tls ? "https" : "http",
	         u->ipv6 ? "[" : "", u->host, u->ipv6 ? "]" : "", u->port,
	         u->path);
}
