/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * tetherd's config file, read with serve_config_read_stream from memory
 * (fmemopen: no file), and the listener URLs it names, as serve parses
 * them next. Whatever is read stays within each setting's limits.
 */
#include <netinet/in.h>
#include <stdio.h>

#include "fuzz.h"

#include "server/config.h"
#include "server/listen.h"

FUZZ_NO_INITIALIZE

static void
check_config(const struct serve_config *c)
{
	struct listen_url l;

	if (c->nlisten > CONFIG_LISTEN_MAX ||
	    c->policy.nallow > POLICY_ALLOW_MAX || c->threads > 256 ||
	    c->timeout > 3600 || c->connections > 65536 ||
	    c->connections_per_address > 65536 ||
	    c->policy.rec_rate > 1000000 || c->policy.rec_burst > 100000 ||
	    c->policy.fail_rate > 1000000 || c->policy.fail_burst > 100000)
		abort();
	for (size_t i = 0; i < c->nlisten; i++) {
		if (!c->listen[i])
			abort();
		if (listen_url_parse(c->listen[i], &l) == 0 &&
		    (l.addrlen > sizeof(l.addr) ||
		     (l.addr.ss_family != AF_INET &&
		      l.addr.ss_family != AF_INET6)))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct serve_config c = { 0 };
	/* fmemopen wants a buffer it may write to, of one byte at least. */
	char *text = fuzz_text(data, size);
	FILE *f = text && size ? fmemopen(text, size, "r") : NULL;

	if (f) {
		(void)serve_config_read_stream(f, "fuzz.conf", &c);
		check_config(&c);
		fclose(f);
	}
	serve_config_free(&c);
	free(text);
	return 0;
}
