/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mDNS answers from anyone on the link, and names to ask for. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"

#include "common/mdns.h"

FUZZ_NO_INITIALIZE

/* What a parse may leave: addresses of the two families, at most max. */
static void
parse_checked(const uint8_t *pkt, size_t len, const char *name)
{
	struct mdns_addr out[3];
	size_t n = 99;
	int r;

	r = mdns_response_parse(pkt, len, name, out, 3, &n);
	if ((r < 0 && n != 0) || n > 3)
		abort();
	for (size_t i = 0; i < n; i++)
		if (out[i].family != AF_INET && out[i].family != AF_INET6)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[MDNS_NAME_MAX + 2];
	uint8_t q[MDNS_QUERY_MAX];
	const uint8_t *nul;
	size_t qlen = 0;

	parse_checked(data, size, "keys.local");
	/* A name up to the first NUL, then a packet to match against it. */
	nul = memchr(data, 0, size < sizeof(name) ? size : sizeof(name));
	if (!nul)
		return 0;
	memcpy(name, data, (size_t)(nul - data) + 1);
	if (mdns_query_build(name, q, sizeof(q), &qlen) < 0)
		return 0;
	if (qlen > sizeof(q))
		abort();
	/* A query is never taken for an answer. */
	parse_checked(q, qlen, name);
	parse_checked(nul + 1, size - (size_t)(nul - data) - 1, name);
	return 0;
}
