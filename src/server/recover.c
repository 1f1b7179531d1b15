/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/recover.h"

#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "common/jwk.h"

/* Tang's order of checks: the request JWK first, then the server's key. */
static unsigned
check_request_jwk(const json_t *req)
{
	const json_t *alg = json_object_get(req, "alg");
	const char *kty;

	if (!json_is_object(req))
		return 400;
	if (!jwk_allows(req, "deriveKey", false))
		return 403;
	kty = json_string_value(json_object_get(req, "kty"));
	if (!kty || strcmp(kty, "EC") != 0)
		return 400;
	if (alg && (!json_is_string(alg) ||
	            strcmp(json_string_value(alg), "ECMR") != 0))
		return 400;
	return 0;
}

unsigned
recover(const struct keyset *ks, const char *kid, const char *body,
        size_t len, char out[ECMR_REPLY_MAX], size_t *out_len)
{
	const struct key *key = NULL;
	unsigned status;
	json_t *req;
	int r;

	req = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
	status = check_request_jwk(req);
	if (status == 0) {
		key = keyset_find(ks, kid);
		if (!key)
			status = 404;
		else if (!key->derives)
			status = 403;
		else if (!key->exchange)
			status = 400;
	}
	if (status == 0) {
		r = ecmr_exchange(key->exchange, req, out, out_len);
		status = r == 0 ? 200 : r == -EINVAL ? 400 : 500;
	}
	json_decref(req);
	return status;
}
