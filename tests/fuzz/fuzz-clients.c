/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * tetherd's clients file, "NAME enabled|disabled SHA256HEX [CIDR,...]
 * [approval=manual]"
 * per line, as clients_parse reads it on every change. Whatever parses
 * formats to a text that parses to the same clients, and each of them is
 * found by its name and checked as a request would be.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "fuzz.h"

#include "server/clients.h"

FUZZ_NO_INITIALIZE

static bool
same_client(const struct client *a, const struct client *b)
{
	if (strcmp(a->name, b->name) != 0 || strcmp(a->hash, b->hash) != 0 ||
	    a->enabled != b->enabled || a->nallow != b->nallow ||
	    a->approval != b->approval || a->heartbeat != b->heartbeat)
		return false;
	for (size_t i = 0; i < a->nallow; i++)
		if (a->allow[i].family != b->allow[i].family ||
		    a->allow[i].bits != b->allow[i].bits ||
		    memcmp(a->allow[i].addr, b->allow[i].addr, 16) != 0)
			return false;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in from = { .sin_family = AF_INET,
	                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct client_list l, again;
	size_t line;
	char *text;

	if (clients_parse((const char *)data, size, &l, &line) < 0)
		return 0;
	if (l.n > CLIENTS_MAX)
		abort();
	text = clients_format(&l);
	if (!text || clients_parse(text, strlen(text), &again, &line) < 0 ||
	    again.n != l.n)
		abort();
	for (size_t i = 0; i < l.n; i++) {
		if (!client_name_valid(l.c[i].name) || l.c[i].nallow >
		    CLIENT_ALLOW_MAX || !same_client(&l.c[i], &again.c[i]) ||
		    clients_find(&l, l.c[i].name) != &l.c[i] ||
		    clients_check(&l, l.c[i].name, "not the token",
		                  (const struct sockaddr *)&from) != CLIENT_UNKNOWN)
			abort();
	}
	clients_free(&again);
	clients_free(&l);
	free(text);
	return 0;
}
