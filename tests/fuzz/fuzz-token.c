/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A LUKS2 token's JSON text, as the token plugin's validate and open and
 * tether luks read it: whatever parses is one keyslot and a compact JWE
 * that parses again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/binding.h"
#include "client/jwe.h"

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
	json_t *flat = NULL, *hdr = NULL;
	char *text, *jwe = NULL;
	int slot = -1;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (binding_from_token(text, &slot, &jwe) == 0) {
		if (slot < 0 || jwe_parse_compact(jwe, strlen(jwe), &flat,
		                                  &hdr) != 0)
			abort();
		json_decref(flat);
		json_decref(hdr);
		free(jwe);
	}
	free(text);
	return 0;
}
