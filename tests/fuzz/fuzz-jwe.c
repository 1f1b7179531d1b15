/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Compact JWEs, as read from a LUKS token or stdin: whatever parses must
 * format back to the same text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#include "client/jwe.h"

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
	free(text);
	json_decref(jwe);
	json_decref(hdr);
	return 0;
}
