/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_ANSWER_H
#define TETHERD_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/ecmr.h"
#include "server/keyset.h"
#include "server/route.h"

#define ANSWER_TYPE_ADV "application/jose+json"
#define ANSWER_TYPE_REC "application/jwk+json"

/* What Tang answers to a request: status, content type and body. */
struct answer {
	unsigned status;
	const char *type;	/* NULL: no body */
	const char *body;	/* in ks or in the caller's rec buffer */
	size_t len;
};

/*
 * Answers a request routed to m from the key set ks (the caller holds a
 * reference for as long as it uses the body): 404 for no route, 405 for
 * the wrong method, the advertisements, or the recovery of body (len
 * bytes; too_large when it was over the limit: 413), written to rec.
 * 500 for an advertisement the directory cannot give (no signing key),
 * as tangd.
 */
void answer_request(struct keyset *ks, const struct route_match *m,
                    const char *body, size_t len, bool too_large,
                    char rec[ECMR_REPLY_MAX], struct answer *out);

#endif
