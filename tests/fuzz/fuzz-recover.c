/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * POST /rec bodies: untrusted JSON parsed, checked and multiplied against
 * a real P-521 exchange key, as the server does for every recovery.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#include "common/jwk.h"
#include "common/util.h"
#include "server/keyset.h"
#include "server/recover.h"

static struct keyset *fuzz_keys;
static char fuzz_kid[JWK_THP_MAX + 1];

static int
add_key(int dirfd, const char *alg, char kid[JWK_THP_MAX + 1])
{
	char name[JWK_THP_MAX + 8], *text;
	json_t *jwk = jwk_generate(alg);
	int r;

	if (!jwk || jwk_thumbprint(jwk, JWK_THP_S256, kid) < 0)
		return -1;
	text = json_dumps(jwk, 0);
	snprintf(name, sizeof(name), "%s.jwk", kid);
	r = text ? write_file_at(dirfd, name, text, strlen(text), 0600) : -1;
	free(text);
	json_decref(jwk);
	return r;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/tether-fuzz.XXXXXX", sig[JWK_THP_MAX + 1], cmd[64];
	int dirfd;

	(void)argc;
	(void)argv;
	if (!mkdtemp(dir))
		abort();
	dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dirfd < 0 || add_key(dirfd, "ES512", sig) < 0 ||
	    add_key(dirfd, "ECMR", fuzz_kid) < 0 ||
	    keyset_load(dirfd, 0, &fuzz_keys) < 0)
		abort();
	close(dirfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char reply[ECMR_REPLY_MAX];
	size_t len = 0;
	unsigned status;

	status = recover(fuzz_keys, fuzz_kid, (const char *)data, size, reply,
	                 &len);
	if (status != 200 && status != 400 && status != 403)
		abort();
	if (status == 200 && (len == 0 || len >= ECMR_REPLY_MAX ||
	                      strlen(reply) != len))
		abort();
	return 0;
}
