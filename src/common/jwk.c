/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "common/jwk.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <jose/b64.h>
#include <jose/jwk.h>
#include <openssl/crypto.h>

#include "common/util.h"

const char *const jwk_thp_names[JWK_THP_COUNT] = {
	[JWK_THP_S1] = "S1",
	[JWK_THP_S224] = "S224",
	[JWK_THP_S256] = "S256",
	[JWK_THP_S384] = "S384",
	[JWK_THP_S512] = "S512",
};

int
jwk_thumbprint(const json_t *jwk, enum jwk_thp_hash hash,
               char out[JWK_THP_MAX + 1])
{
	uint8_t digest[64];
	size_t dlen, elen;

	if ((unsigned)hash >= JWK_THP_COUNT)
		return -EINVAL;
	dlen = jose_jwk_thp_buf(NULL, NULL, jwk_thp_names[hash], NULL, 0);
	if (dlen == SIZE_MAX || dlen > sizeof(digest))
		return -EINVAL;
	if (!jose_jwk_thp_buf(NULL, jwk, jwk_thp_names[hash], digest, dlen))
		return -EINVAL;
	elen = jose_b64_enc_buf(digest, dlen, out, JWK_THP_MAX);
	if (elen == SIZE_MAX || elen > JWK_THP_MAX)
		return -EINVAL;
	out[elen] = '\0';
	return 0;
}

json_t *
jwk_generate(const char *alg)
{
	json_t *jwk = json_pack("{s:s}", "alg", alg);

	if (!jwk)
		return NULL;
	if (!jose_jwk_gen(NULL, jwk)) {
		json_decref(jwk);
		return NULL;
	}
	return jwk;
}

bool
jwk_allows(const json_t *jwk, const char *op, bool required)
{
	return jose_jwk_prm(NULL, jwk, required, op);
}

static void
wipe_string(json_t *v)
{
	/* jansson frees without wiping: clear the bytes it holds. */
	if (json_is_string(v) && v->refcount == 1)
		explicit_bzero((char *)json_string_value(v), json_string_length(v));
}

void
jwk_free_wiped(json_t *jwk)
{
	const char *name;
	json_t *v;

	json_object_foreach(jwk, name, v)
		wipe_string(v);
	json_decref(jwk);
}

void
jwk_free_secret(json_t *jwk)
{
	static const char *const private_members[] = {
		"d", "p", "q", "dp", "dq", "qi", "k",
	};

	if (!jwk)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(private_members); i++)
		wipe_string(json_object_get(jwk, private_members[i]));
	json_decref(jwk);
}
