/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "client/ecdh_es.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/jwe.h"
#include "common/b64.h"
#include "common/ecmr.h"
#include "common/sha256.h"
#include "common/util.h"

/* apu and apv name parties: a few bytes; a bound all the same. */
#define PARTY_INFO_MAX 1024

static void
be32(uint8_t out[4], uint32_t v)
{
	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

/* RFC 7518 4.6.2's OtherInfo fields: a length, then the bytes. */
static int
digest_datalen(struct sha256 *md, const void *p, size_t n)
{
	uint8_t len[4];

	be32(len, (uint32_t)n);
	return sha256_update(md, len, sizeof(len)) == 0 &&
	       sha256_update(md, p, n) == 0;
}

/* The key derivation's inputs beside Z. */
struct kdf_info {
	const char *alg;	/* the enc, for direct agreement */
	uint8_t *apu, *apv;
	size_t apulen, apvlen;
};

/*
 * The Concat KDF (NIST SP 800-56A 5.8.1) with SHA-256 as RFC 7518 4.6.2
 * sets it: rounds of SHA-256(counter || Z || OtherInfo) until keylen
 * bytes (at most 64: two rounds).
 */
static int
concat_kdf(const uint8_t *z, size_t zlen, const struct kdf_info *info,
           uint8_t *key, size_t keylen)
{
	uint8_t round[4], bits[4], out[SHA256_LEN];
	struct sha256 md;
	int ok = 1;

	be32(bits, (uint32_t)keylen * 8);
	for (uint32_t c = 1; ok && (c - 1) * SHA256_LEN < keylen; c++) {
		size_t done = (c - 1) * SHA256_LEN;

		be32(round, c);
		if (sha256_init(&md) < 0) {
			ok = 0;
			break;
		}
		ok = sha256_update(&md, round, sizeof(round)) == 0 &&
		     sha256_update(&md, z, zlen) == 0 &&
		     digest_datalen(&md, info->alg, strlen(info->alg)) &&
		     digest_datalen(&md, info->apu, info->apulen) &&
		     digest_datalen(&md, info->apv, info->apvlen) &&
		     sha256_update(&md, bits, sizeof(bits)) == 0;
		/* Wipes the state whether or not the rest went well. */
		ok = sha256_final(&md, out) == 0 && ok;
		if (ok)
			memcpy(key + done, out, keylen - done < SHA256_LEN ?
			       keylen - done : SHA256_LEN);
	}
	explicit_bzero(out, sizeof(out));
	return ok ? 0 : -EINVAL;
}

static void
kdf_info_free(struct kdf_info *info)
{
	free(info->apu);
	free(info->apv);
}

/* The header's enc, apu and apv; absent party infos are empty. */
static int
kdf_info_read(const json_t *hdr, const struct jwe_enc *enc,
              struct kdf_info *info)
{
	const json_t *apu = json_object_get(hdr, "apu");
	const json_t *apv = json_object_get(hdr, "apv");

	*info = (struct kdf_info){ .alg = jwe_enc_name(enc) };
	if ((apu && b64_decode_json(apu, PARTY_INFO_MAX, &info->apu,
	                            &info->apulen) < 0) ||
	    (apv && b64_decode_json(apv, PARTY_INFO_MAX, &info->apv,
	                            &info->apvlen) < 0)) {
		kdf_info_free(info);
		return -EINVAL;
	}
	return 0;
}

static int
derive(const json_t *hdr, const struct jwe_enc *enc, const uint8_t *z,
       size_t zlen, uint8_t *cek)
{
	struct kdf_info info;
	int r = kdf_info_read(hdr, enc, &info);

	if (r == 0)
		r = concat_kdf(z, zlen, &info, cek, jwe_enc_key_len(enc));
	kdf_info_free(&info);
	return r;
}

int
ecdh_es_key(const json_t *hdr, const json_t *point, const struct jwe_enc *enc,
            uint8_t *cek)
{
	const char *kty = json_string_value(json_object_get(point, "kty"));
	const char *crv = json_string_value(json_object_get(point, "crv"));
	const json_t *x = json_object_get(point, "x");
	size_t zlen = ecmr_field_len(crv), n = 0;
	uint8_t z[ECMR_SECRET_MAX];
	int r = -EINVAL;

	if (!kty || strcmp(kty, "EC") != 0 || zlen == 0 || !json_is_string(x) ||
	    json_string_length(x) != b64_encoded_len(zlen))
		return -EINVAL;
	if (b64_decode(json_string_value(x), json_string_length(x), z,
	               sizeof(z), &n) == 0 && n == zlen)
		r = derive(hdr, enc, z, zlen, cek);
	explicit_bzero(z, sizeof(z));
	return r;
}

int
ecdh_es_encrypt(const json_t *hdr, const json_t *srv, const uint8_t *pt,
                size_t len, char **out)
{
	const struct jwe_enc *enc = jwe_enc_find(json_string_value(
		json_object_get(hdr, "enc")));
	const char *alg = json_string_value(json_object_get(hdr, "alg"));
	uint8_t z[ECMR_SECRET_MAX], cek[64];
	json_t *protected, *epk = NULL;
	size_t zlen = 0;
	int r;

	if (!enc || !alg || strcmp(alg, "ECDH-ES") != 0)
		return -EINVAL;
	protected = json_deep_copy(hdr);
	if (!protected)
		return -ENOMEM;
	r = ecmr_agree(srv, &epk, z, &zlen);
	if (r == 0 && json_object_set_new(protected, "epk", epk) < 0)
		r = -ENOMEM;
	if (r == 0)
		r = derive(protected, enc, z, zlen, cek);
	if (r == 0)
		r = jwe_seal(protected, cek, jwe_enc_key_len(enc), pt, len, out);
	explicit_bzero(z, sizeof(z));
	explicit_bzero(cek, sizeof(cek));
	json_decref(protected);
	return r;
}
