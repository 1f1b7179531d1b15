/* SPDX-License-Identifier: GPL-3.0-or-later */
/* HTTP request heads, as tetherd KEYSDIR reads them from a client. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#include "server/request.h"

FUZZ_NO_INITIALIZE

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request_head rq;
	char *buf = malloc(size ? size : 1);
	int r;

	if (!buf)
		return 0;
	/* Exactly the bytes received: no terminator to lean on. */
	memcpy(buf, data, size);
	r = request_head_parse(buf, size, &rq);
	if (r == 1 && (rq.header_len > size || rq.header_len > REQUEST_HEADER_MAX ||
	               rq.body_len > REQUEST_BODY_MAX ||
	               strlen(rq.method) == 0 || strlen(rq.target) == 0))
		abort();
	if (r != 0 && r != 1 && (r < 400 || r > 599))
		abort();
	free(buf);
	return 0;
}
