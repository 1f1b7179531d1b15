/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Advertisements (JWS, general or flattened JSON) from a server the
 * client does not trust yet, as `tether adv`, `tether encrypt tang` and
 * `luks regen` take them: the input is the body of every GET the client
 * sends (offline.h), fetched with no thumbprint, with the fixture's
 * signing key's, and against that key as trusted before; and given as
 * the "adv" of a tang config. An advertisement is taken only when signed
 * by every signing key it lists, so what is taken lists one.
 */
#include "fuzz.h"
#include "offline.h"

#include "client/adv.h"
#include "client/pin.h"
#include "client/request.h"
#include "common/jwk.h"
#include "common/util.h"

static struct url fuzz_url;

/* The fixture's signing keys, as a binding's "trust" keeps them. */
static json_t *
trusted_keys(void)
{
	static json_t *trusted;
	json_t *jws = NULL, *jwks = NULL;

	if (trusted)
		return trusted;
	offline_serve_get(NULL, 0);
	if (url_parse("http://tang.example", &fuzz_url) < 0 ||
	    adv_fetch(&fuzz_url, NULL, &jws, &jwks) < 0)
		abort();
	trusted = adv_signing_keys(jwks);
	if (json_array_size(trusted) == 0)
		abort();
	json_decref(jws);
	json_decref(jwks);
	return trusted;
}

/* What a verified key set must hold. */
static void
check_keys(const json_t *jwks)
{
	json_t *signers = adv_signing_keys(jwks), *k;
	const json_t *exc = adv_exchange_key(jwks);
	char thp[JWK_THP_MAX + 1];
	size_t i;

	if (json_array_size(signers) == 0 ||
	    (exc && !jwk_allows(exc, "deriveKey", true)))
		abort();
	json_array_foreach(signers, i, k)
		if (jwk_thumbprint(k, JWK_THP_S256, thp) == 0 &&
		    !adv_signed_by(jwks, thp))
			abort();
	json_decref(signers);
}

/* Fetches with thp (or none) or against trusted keys; checks the result. */
static void
fetch_checked(const char *thp, const json_t *trust)
{
	json_t *jws = NULL, *jwks = NULL;
	int r;

	r = trust ? adv_fetch_trusted(&fuzz_url, trust, &jws, &jwks) :
	            adv_fetch(&fuzz_url, thp, &jws, &jwks);
	if (r == 0)
		check_keys(jwks);
	else if (jws || jwks)
		abort();
	json_decref(jws);
	json_decref(jwks);
}

/* The advertisement given in a tang config rather than fetched. */
static void
encrypt_with(const uint8_t *data, size_t size)
{
	json_t *cfg = json_pack("{s:s,s:o}", "url", "http://tang.example",
	                        "adv", json_loadb((const char *)data, size, 0,
	                                          NULL));
	char *jwe = NULL;

	if (cfg && pin_encrypt("tang", cfg, false, (const uint8_t *)"k", 1,
	                       &jwe) == 0 && !strchr(jwe, '.'))
		abort();
	free(jwe);
	json_decref(cfg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const json_t *trusted = trusted_keys();

	offline_serve_get((const char *)data, size);
	fetch_checked(NULL, NULL);
	fetch_checked(offline_signer_thp(), NULL);
	fetch_checked(NULL, trusted);
	offline_serve_get(NULL, 0);
	encrypt_with(data, size);
	return 0;
}
