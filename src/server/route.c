/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/route.h"

#include <string.h>

static int
is_kid_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	       (c >= 'a' && c <= 'z') || c == '_' || c == '-';
}

/* Consumes one or more slashes; returns NULL when there is none. */
static const char *
slashes(const char *p)
{
	if (*p != '/')
		return NULL;
	while (*p == '/')
		p++;
	return p;
}

/* Copies a whole-rest-of-path kid; 0 when p is not exactly one kid. */
static int
take_kid(const char *p, char kid[JWK_THP_MAX + 1])
{
	size_t n = 0;

	while (is_kid_char(p[n]))
		n++;
	if (n == 0 || p[n] != '\0' || n > JWK_THP_MAX)
		return 0;
	memcpy(kid, p, n);
	kid[n] = '\0';
	return 1;
}

void
route_match(const char *method, const char *path, struct route_match *m)
{
	const char *p = slashes(path);

	memset(m, 0, sizeof(*m));
	if (!p)
		return;
	if (strncmp(p, "adv", 3) == 0) {
		p += 3;
		while (*p == '/')
			p++;
		if (*p == '\0' && (p[-1] == '/' || p[-1] == 'v'))
			m->route = ROUTE_ADV;
		else if (p[-1] == '/' && take_kid(p, m->kid))
			m->route = ROUTE_ADV_KID;
		else
			return;
		m->method_ok = strcmp(method, "GET") == 0;
	} else if (strcmp(p, "tether/heartbeat") == 0) {
		m->route = ROUTE_HEARTBEAT;
		m->method_ok = strcmp(method, "POST") == 0;
	} else if (strncmp(p, "rec", 3) == 0) {
		p = slashes(p + 3);
		if (!p || !take_kid(p, m->kid))
			return;
		m->route = ROUTE_REC;
		m->method_ok = strcmp(method, "POST") == 0;
	}
}
