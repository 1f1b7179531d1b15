/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "client/ecdh_es.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jose/b64.h>
#include <jose/jwe.h>
#include <openssl/evp.h>

#include "client/jwe.h"
#include "common/ecmr.h"
#include "common/jwk.h"

#define ENC "A256GCM"
#define CEK_LEN 32

static void
be32(uint8_t out[4], uint32_t v)
{
	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

/*
 * RFC 7518 4.6.2's Concat KDF for direct agreement: SHA-256 of round 1,
 * Z, then AlgorithmID (the enc), empty PartyUInfo and PartyVInfo (the
 * header has no apu or apv) and the key length in bits. One round makes
 * A256GCM's 256 bits.
 */
static int
concat_kdf(const uint8_t *z, size_t zlen, uint8_t cek[CEK_LEN])
{
	uint8_t round[4], alg_len[4], empty[4] = { 0 }, bits[4];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok;

	if (!md)
		return -ENOMEM;
	be32(round, 1);
	be32(alg_len, sizeof(ENC) - 1);
	be32(bits, CEK_LEN * 8);
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(md, round, sizeof(round)) &&
	     EVP_DigestUpdate(md, z, zlen) &&
	     EVP_DigestUpdate(md, alg_len, sizeof(alg_len)) &&
	     EVP_DigestUpdate(md, ENC, sizeof(ENC) - 1) &&
	     EVP_DigestUpdate(md, empty, sizeof(empty)) &&
	     EVP_DigestUpdate(md, empty, sizeof(empty)) &&
	     EVP_DigestUpdate(md, bits, sizeof(bits)) &&
	     EVP_DigestFinal_ex(md, cek, &n) && n == CEK_LEN;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -ENOMEM;
}

/* The content key as the JWK libjose's A256GCM takes. */
static json_t *
cek_jwk(const json_t *srv, json_t *hdr)
{
	uint8_t z[ECMR_SECRET_MAX], cek[CEK_LEN];
	json_t *epk = NULL, *jwk = NULL;
	size_t zlen = 0;

	if (ecmr_agree(srv, &epk, z, &zlen) < 0)
		return NULL;
	if (json_object_set_new(hdr, "epk", epk) == 0 &&
	    concat_kdf(z, zlen, cek) == 0)
		jwk = json_pack("{s:s,s:s,s:o}", "kty", "oct", "alg", ENC, "k",
		                jose_b64_enc(cek, sizeof(cek)));
	explicit_bzero(z, sizeof(z));
	explicit_bzero(cek, sizeof(cek));
	return jwk;
}

int
ecdh_es_encrypt(const json_t *hdr, const json_t *srv, const uint8_t *pt,
                size_t len, char **out)
{
	const char *enc = json_string_value(json_object_get(hdr, "enc"));
	json_t *protected, *jwe, *cek;
	int r = -ENOMEM;

	if (!enc || strcmp(enc, ENC) != 0)
		return -EINVAL;
	protected = json_deep_copy(hdr);
	jwe = json_pack("{s:o}", "protected", protected);
	if (!jwe)
		return -ENOMEM;
	cek = cek_jwk(srv, protected);
	if (!cek)
		r = -EINVAL;
	else if (jose_jwe_enc_cek(NULL, jwe, cek, pt, len))
		r = jwe_format_compact(jwe, out);
	jwk_free_secret(cek);
	json_decref(jwe);
	return r;
}
