/* SPDX-License-Identifier: GPL-3.0-or-later */
/* HTTP responses from a server the client does not trust yet. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#include "common/response.h"

FUZZ_NO_INITIALIZE

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct response r;
	char *buf;

	/* Exactly the bytes received plus the one spare byte promised. */
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	for (int eof = 0; eof <= 1; eof++) {
		memcpy(buf, data, size);
		if (response_parse(buf, size, eof, &r) == 0 &&
		    (r.body < buf || r.body + r.body_len > buf + size ||
		     r.body[r.body_len] != '\0'))
			abort();
	}
	free(buf);
	return 0;
}
