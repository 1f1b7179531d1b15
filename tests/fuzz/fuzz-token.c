/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A LUKS2 token's JSON text, as the token plugin's validate and open and
 * tether luks read it: whatever is taken is one keyslot in range and a
 * JWE text. The parts' contents are checked later, by whoever decodes
 * them (a part holding '.' makes a text jwe_parse_compact refuses).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/binding.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *jwe = NULL;
	int slot = -1;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (binding_from_token(text, &slot, &jwe) == 0) {
		if (slot < 0 || slot >= crypt_keyslot_max(CRYPT_LUKS2) ||
		    !jwe || !strchr(jwe, '.'))
			abort();
		free(jwe);
	}
	free(text);
	return 0;
}
