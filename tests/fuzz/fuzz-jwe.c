/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Compact JWEs, as read from a LUKS token or stdin: whatever parses must
 * format back to the same text, and decrypting it with keys of each
 * shape ("dir" keys of every enc's length, an ECDH-ES shared point)
 * fails cleanly or yields a plaintext.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#include "client/jwe.h"
#include "common/util.h"

/* The keys a JWE may name: oct of 16 to 64 bytes, a P-256 point. */
static const char *const fuzz_keys[] = {
	"{\"kty\":\"oct\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAA\"}",
	"{\"kty\":\"oct\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
	"{\"kty\":\"oct\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
	"{\"kty\":\"oct\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
	"{\"kty\":\"oct\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
	"{\"kty\":\"EC\",\"crv\":\"P-256\","
	"\"x\":\"nlbZHYFxNdNyg0KDv4QmnPsxbqPagGpI9tqneYz-kMQ\","
	"\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
};

static void
decrypt_each_key(const json_t *jwe)
{
	for (size_t i = 0; i < ARRAY_SIZE(fuzz_keys); i++) {
		json_t *key = json_loads(fuzz_keys[i], 0, NULL);
		uint8_t *pt = NULL;
		size_t len = 0;

		if (!key)
			abort();
		if (jwe_decrypt(jwe, key, &pt, &len) == 0) {
			if (!pt || len > JWE_PLAINTEXT_MAX)
				abort();
			free_secret(pt, len);
		} else if (pt) {
			abort();
		}
		json_decref(key);
	}
}

FUZZ_NO_INITIALIZE

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *jwe = NULL, *hdr = NULL;
	char *text = NULL;
	size_t n = size;

	if (jwe_parse_compact((const char *)data, size, &jwe, &hdr) != 0)
		return 0;
	(void)jwe_pin(hdr);
	while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r' ||
	                 data[n - 1] == ' '))
		n--;
	if (jwe_format_compact(jwe, &text) != 0 || strlen(text) != n ||
	    memcmp(text, data, n) != 0)
		abort();
	decrypt_each_key(jwe);
	free(text);
	json_decref(jwe);
	json_decref(hdr);
	return 0;
}
