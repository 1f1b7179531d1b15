/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The decrypt side of the pins: a JWE's protected header, whose "clevis"
 * member (tang's url and advertisement, sss's threshold, prime and nested
 * JWEs, null's key) whoever writes the disk or the file chooses. The input
 * is the header's JSON, a newline, then "IV.CIPHERTEXT.TAG": the header
 * is encoded here, so that mutations land in the JSON and a seed whose
 * header bytes are kept still decrypts (its tag covers them). The JWE is
 * read as a binding's is (offline_read_binding).
 */
#include <jose/b64.h>

#include "fuzz.h"
#include "offline.h"

/* The compact JWE: base64url(header) ".." rest. */
static char *
compact_jwe(const uint8_t *data, size_t size)
{
	const uint8_t *nl = data + size;
	json_t *b64;
	char *jwe = NULL;

	while (nl > data && nl[-1] != '\n')
		nl--;
	if (nl == data)
		return NULL;
	b64 = jose_b64_enc(data, (size_t)(nl - data) - 1);
	if (b64 && asprintf(&jwe, "%s..%.*s", json_string_value(b64),
	                    (int)(data + size - nl), (const char *)nl) < 0)
		jwe = NULL;
	json_decref(b64);
	return jwe;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *jwe = compact_jwe(data, size);

	if (jwe)
		offline_read_binding(jwe);
	free(jwe);
	return 0;
}
