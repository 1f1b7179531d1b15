/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A LUKS2 token's JSON text, which anyone who can write the disk writes,
 * read as the token plugin reads it as root at boot (validate and open
 * call binding_from_token; the JWE then goes on as offline_read_binding
 * says) and as `tether luks` reads it. Whatever is taken is one keyslot in range and a JWE text. The parts'
 * contents are checked later, by whoever decodes them (a part holding '.'
 * makes a text jwe_parse_compact refuses).
 */
#include "fuzz.h"
#include "offline.h"

#include "client/binding.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size), *jwe = NULL;
	int slot = -1;

	if (text && binding_from_token(text, &slot, &jwe) == 0) {
		if (slot < 0 || slot >= crypt_keyslot_max(CRYPT_LUKS2) ||
		    !jwe || !strchr(jwe, '.'))
			abort();
		offline_read_binding(jwe);
	}
	free(jwe);
	free(text);
	return 0;
}
