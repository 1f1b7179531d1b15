/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "client/adv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/request.h"
#include "common/b64.h"
#include "common/ecmr.h"
#include "common/jwk.h"
#include "common/log.h"

bool
adv_is_kid(const char *s)
{
	size_t n = 0;

	for (; s && s[n]; n++)
		if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
		      (s[n] >= '0' && s[n] <= '9') || s[n] == '-' || s[n] == '_'))
			return false;
	return n > 0 && n <= JWK_THP_MAX;
}

static json_t *
keys_with_op(const json_t *jwks, const char *op)
{
	json_t *out = json_array(), *k;
	size_t i;

	if (!out)
		return NULL;
	json_array_foreach(json_object_get(jwks, "keys"), i, k)
		if (jwk_allows(k, op, true) && json_array_append(out, k) < 0) {
			json_decref(out);
			return NULL;
		}
	return out;
}

json_t *
adv_signing_keys(const json_t *jwks)
{
	return keys_with_op(jwks, "verify");
}

const json_t *
adv_exchange_key(const json_t *jwks)
{
	json_t *k;
	size_t i;

	json_array_foreach(json_object_get(jwks, "keys"), i, k)
		if (jwk_allows(k, "deriveKey", true))
			return k;
	return NULL;
}

/* R || S of P-521, the longest ES signature. */
#define SIGNATURE_MAX 132
/* An advertisement's parts: a few keys, far below this. */
#define JWS_PART_MAX (64 * 1024)

/*
 * The alg of one signature: from its protected header, or its unprotected
 * one; RFC 7515 7.2.1 forbids naming it in both, and a "crit" this does
 * not understand (any) forbids verifying it (4.1.11).
 */
static const char *
signature_alg(const json_t *prt, const json_t *sig)
{
	const json_t *unprt = json_object_get(sig, "header");
	const json_t *a = json_object_get(prt, "alg");
	const json_t *b = json_object_get(unprt, "alg");

	if ((unprt && !json_is_object(unprt)) || (a && b) ||
	    json_object_get(prt, "crit") || json_object_get(unprt, "crit"))
		return NULL;
	return json_string_value(a ? a : b);
}

/*
 * Whether sig, one signature of jws, verifies under jwk: an ES256/384/512
 * signature (Tang signs with ES512), one ECDSA verification over the
 * encoded protected header, a dot and the encoded payload (RFC 7515 5.2).
 * Other algs never verify.
 */
static bool
signature_verifies(const json_t *jws, const json_t *sig, const json_t *jwk)
{
	const char *prot = json_string_value(json_object_get(sig, "protected"));
	const char *pay = json_string_value(json_object_get(jws, "payload"));
	const char *kalg = json_string_value(json_object_get(jwk, "alg"));
	json_t *hdr = b64_decode_object(json_object_get(sig, "protected"),
	                                JWS_PART_MAX);
	const char *alg = hdr ? signature_alg(hdr, sig) : NULL;
	const json_t *s = json_object_get(sig, "signature");
	uint8_t raw[SIGNATURE_MAX];
	size_t n = 0, plen, ylen;
	char *input = NULL;
	int r = -EBADMSG;

	if (!prot || !pay || !alg || (kalg && strcmp(kalg, alg) != 0) ||
	    !jwk_allows(jwk, "verify", false) || !json_is_string(s) ||
	    b64_decode(json_string_value(s), json_string_length(s), raw,
	               sizeof(raw), &n) < 0)
		goto out;
	plen = strlen(prot);
	ylen = strlen(pay);
	input = malloc(plen + 1 + ylen);
	if (!input)
		goto out;
	memcpy(input, prot, plen);
	input[plen] = '.';
	memcpy(input + plen + 1, pay, ylen);
	r = ecmr_verify(jwk, alg, raw, n, input, plen + 1 + ylen);
out:
	free(input);
	json_decref(hdr);
	return r == 0;
}

/* Whether a signature of jws (general or flattened) verifies under jwk. */
static bool
signed_by(const json_t *jws, const json_t *jwk)
{
	const json_t *sigs = json_object_get(jws, "signatures"), *sig;
	size_t i;

	if (!json_is_array(sigs))
		return signature_verifies(jws, jws, jwk);
	json_array_foreach(sigs, i, sig)
		if (signature_verifies(jws, sig, jwk))
			return true;
	return false;
}

int
adv_keys(const json_t *jws, json_t **jwks)
{
	json_t *payload, *signers, *k;
	size_t i;
	int r = 0;

	if (!json_is_object(jws))
		return -EBADMSG;
	payload = b64_decode_object(json_object_get(jws, "payload"), JWS_PART_MAX);
	if (!json_is_object(payload) ||
	    !json_is_array(json_object_get(payload, "keys"))) {
		json_decref(payload);
		return -EBADMSG;
	}
	signers = adv_signing_keys(payload);
	if (!signers)
		r = -ENOMEM;
	else if (json_array_size(signers) == 0)
		r = -EKEYREJECTED;
	/* Every signing key the advertisement lists has signed it. */
	json_array_foreach(signers, i, k)
		if (r == 0 && !signed_by(jws, k))
			r = -EKEYREJECTED;
	json_decref(signers);
	if (r < 0) {
		json_decref(payload);
		return r;
	}
	*jwks = payload;
	return 0;
}

bool
adv_signed_by(const json_t *jwks, const char *thp)
{
	static const enum jwk_thp_hash hashes[] = { JWK_THP_S256, JWK_THP_S1 };
	json_t *signers = adv_signing_keys(jwks), *k;
	char t[JWK_THP_MAX + 1];
	bool found = false;
	size_t i;

	json_array_foreach(signers, i, k)
		for (size_t h = 0; !found && h < 2; h++)
			found = jwk_thumbprint(k, hashes[h], t) == 0 &&
			        strcmp(t, thp) == 0;
	json_decref(signers);
	return found;
}

int
adv_fetch(const struct url *u, const char *thp, json_t **jws, json_t **jwks)
{
	char suffix[JWK_THP_MAX + 8], where[URL_HOST_MAX + URL_PATH_MAX + 32];
	int r;

	snprintf(suffix, sizeof(suffix), "/adv%s%s", thp ? "/" : "",
	         thp ? thp : "");
	r = server_request(u, "GET", suffix, NULL, jws);
	if (r < 0)
		return r;
	r = adv_keys(*jws, jwks);
	if (r < 0) {
		url_format(u, where, sizeof(where));
		log_err("%s: %s", where, r == -EKEYREJECTED ?
		        "advertisement signature invalid: not signed by every "
		        "signing key it lists" : "malformed advertisement");
		json_decref(*jws);
		*jws = NULL;
	}
	return r;
}

int
adv_fetch_trusted(const struct url *u, const json_t *trusted, json_t **jws,
                  json_t **jwks)
{
	char thp[JWK_THP_MAX + 1], where[URL_HOST_MAX + URL_PATH_MAX + 32];
	const json_t *k;
	size_t i;
	int r;

	r = jwk_thumbprint(json_array_get(trusted, 0), JWK_THP_S256, thp);
	if (r < 0)
		return -EINVAL;
	r = adv_fetch(u, thp, jws, jwks);
	if (r == -ENOENT) {
		/* The 404 is reported; what it means for this binding: */
		url_format(u, where, sizeof(where));
		log_err("%s: no advertisement signed by the key the binding "
		        "trusted; check the server's keys with 'tether adv' and "
		        "trust them with -y", where);
	}
	if (r < 0)
		return r;
	json_array_foreach(trusted, i, k)
		if (jwk_allows(k, "verify", true) && signed_by(*jws, k))
			return 0;
	url_format(u, where, sizeof(where));
	log_err("%s: the server's keys are not signed by a key the binding "
	        "trusted; check them with 'tether adv' and trust them with -y",
	        where);
	json_decref(*jwks);
	json_decref(*jws);
	*jwks = NULL;
	*jws = NULL;
	return -EKEYREJECTED;
}

static void
print_keys(const json_t *jwks)
{
	char s256[JWK_THP_MAX + 1], s1[JWK_THP_MAX + 1];
	json_t *k;
	size_t i;

	json_array_foreach(json_object_get(jwks, "keys"), i, k) {
		bool sig = jwk_allows(k, "verify", true);
		bool exc = jwk_allows(k, "deriveKey", true);
		const char *crv = json_string_value(json_object_get(k, "crv"));

		if ((!sig && !exc) || jwk_thumbprint(k, JWK_THP_S256, s256) < 0 ||
		    jwk_thumbprint(k, JWK_THP_S1, s1) < 0)
			continue;
		printf("%-8s S256 %s  S1 %s  %s\n", sig ? "signing" : "exchange",
		       s256, s1, crv ? crv : "-");
	}
}

int
cmd_adv(int argc, char **argv)
{
	json_t *jws = NULL, *jwks = NULL;
	struct url u;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	                  strcmp(argv[1], "-h") == 0)) {
		printf("usage: tether adv URL\n\n"
		       "Fetches the server's advertisement, verifies its signatures "
		       "and prints each\nkey: signing keys (what \"thp\" may name, "
		       "in SHA-256 and SHA-1 thumbprints)\nand exchange keys.\n\n"
		       "  URL  http[s]://[NAME:TOKEN@]HOST[:PORT][/PATH], as a "
		       "binding's \"url\";\n       NAME:TOKEN is a client "
		       "credential for servers that want one;\n       https "
		       "trusts the system's CA bundle\n");
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: tether adv URL\n");
		return 2;
	}
	if (server_url("adv", argv[1], &u) < 0)
		return 1;
	if (adv_fetch(&u, NULL, &jws, &jwks) < 0)
		return 1;
	print_keys(jwks);
	json_decref(jwks);
	json_decref(jws);
	return fflush(stdout) == 0 ? 0 : 1;
}
