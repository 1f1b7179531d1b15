/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Server URLs, from a command line, a pin config or a JWE header written
 * by whoever writes the disk. Whatever parses holds terminated fields in
 * range and formats to a URL that parses back to the same server.
 */
#include <stdio.h>

#include "fuzz.h"

#include "common/url.h"
#include "common/util.h"

FUZZ_NO_INITIALIZE

static void
check_fields(const struct url *u)
{
	unsigned long port;

	if (!memchr(u->host, '\0', sizeof(u->host)) || !u->host[0] ||
	    !memchr(u->port, '\0', sizeof(u->port)) ||
	    parse_ulong(u->port, 1, 65535, &port) < 0 ||
	    !memchr(u->path, '\0', sizeof(u->path)) ||
	    (u->path[0] && u->path[0] != '/') ||
	    (u->path[0] && u->path[strlen(u->path) - 1] == '/') ||
	    !memchr(u->user, '\0', sizeof(u->user)) ||
	    !memchr(u->pass, '\0', sizeof(u->pass)) ||
	    !u->user[0] != !u->pass[0] || strpbrk(u->user, ":@/"))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	char shown[URL_HOST_MAX + URL_PATH_MAX + 32];
	char target[URL_PATH_MAX + 8];
	struct url u, again;

	if (!text || url_parse(text, &u) < 0) {
		free(text);
		return 0;
	}
	check_fields(&u);
	url_format(&u, shown, sizeof(shown));
	if (url_parse(shown, &again) < 0 || again.tls != u.tls ||
	    again.ipv6 != u.ipv6 || strcmp(again.host, u.host) != 0 ||
	    strcmp(again.port, u.port) != 0 || strcmp(again.path, u.path) != 0)
		abort();
	if (url_target(&u, "/adv", target, sizeof(target)) < 0 ||
	    strcmp(target + strlen(u.path), "/adv") != 0)
		abort();
	free(text);
	return 0;
}
