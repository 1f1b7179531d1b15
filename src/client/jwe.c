/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "client/jwe.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <zlib.h>

#include "client/aesni_gcm.h"
#include "client/ecdh_es.h"
#include "common/b64.h"
#include "common/dlib.h"
#include "common/jwk.h"
#include "common/log.h"
#include "common/util.h"

static const char *const jwe_parts[] = {
	"protected", "encrypted_key", "iv", "ciphertext", "tag",
};

static int
is_b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int
jwe_parse_compact(const char *text, size_t len, json_t **jwe, json_t **hdr)
{
	const char *p = text, *end;
	json_t *obj, *h;

	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' ||
	                   text[len - 1] == ' '))
		len--;
	if (len == 0 || len > JWE_MAX)
		return -EBADMSG;
	end = text + len;
	obj = json_object();
	if (!obj)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(jwe_parts); i++) {
		const char *q = p;
		size_t n;

		while (q < end && is_b64url(*q))
			q++;
		n = (size_t)(q - p);
		/* Clevis's pins use direct key agreement: no encrypted key.
		   Only the ciphertext of an empty plaintext may be empty. */
		if ((i < 4 ? q == end || *q != '.' : q != end) ||
		    (i == 1 ? n != 0 : n == 0 && i != 3) ||
		    (i != 1 && json_object_set_new(obj, jwe_parts[i],
		                                   json_stringn(p, n)) < 0)) {
			json_decref(obj);
			return -EBADMSG;
		}
		p = q + 1;
	}
	h = b64_decode_object(json_object_get(obj, "protected"), JWE_MAX);
	if (!json_is_object(h)) {
		json_decref(h);
		json_decref(obj);
		return -EBADMSG;
	}
	*jwe = obj;
	*hdr = h;
	return 0;
}

int
jwe_format_compact(const json_t *jwe, char **out)
{
	const char *v[ARRAY_SIZE(jwe_parts)];
	size_t n = 0;
	char *s;

	if (json_object_get(jwe, "header") || json_object_get(jwe, "unprotected") ||
	    json_object_get(jwe, "aad") || json_object_get(jwe, "recipients"))
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(jwe_parts); i++) {
		const json_t *part = json_object_get(jwe, jwe_parts[i]);

		v[i] = part ? json_string_value(part) : "";
		if (!v[i])
			return -EINVAL;
		n += strlen(v[i]) + 1;
	}
	s = malloc(n);
	if (!s)
		return -ENOMEM;
	snprintf(s, n, "%s.%s.%s.%s.%s", v[0], v[1], v[2], v[3], v[4]);
	*out = s;
	return 0;
}

const char *
jwe_pin(const json_t *hdr)
{
	return json_string_value(json_object_get(
		json_object_get(hdr, "clevis"), "pin"));
}

/*
 * RFC 7518 5.1's content encryptions: AES-GCM, and AES-CBC with an
 * HMAC-SHA-2 tag whose key is the first half of the CEK (5.2.2.1).
 */
struct jwe_enc {
	const char *name;
	const char *cipher;
	const char *mac;	/* NULL for GCM */
	size_t key_len;
	size_t iv_len;
	size_t tag_len;
};

static const struct jwe_enc jwe_encs[] = {
	{ "A128GCM", "AES-128-GCM", NULL, 16, 12, 16 },
	{ "A192GCM", "AES-192-GCM", NULL, 24, 12, 16 },
	{ "A256GCM", "AES-256-GCM", NULL, 32, 12, 16 },
	{ "A128CBC-HS256", "AES-128-CBC", "SHA256", 32, 16, 16 },
	{ "A192CBC-HS384", "AES-192-CBC", "SHA384", 48, 16, 24 },
	{ "A256CBC-HS512", "AES-256-CBC", "SHA512", 64, 16, 32 },
};

const struct jwe_enc *
jwe_enc_find(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(jwe_encs); i++)
		if (strcmp(name, jwe_encs[i].name) == 0)
			return &jwe_encs[i];
	return NULL;
}

size_t
jwe_enc_key_len(const struct jwe_enc *enc)
{
	return enc->key_len;
}

const char *
jwe_enc_name(const struct jwe_enc *enc)
{
	return enc->name;
}

/* One call of the cipher over a whole buffer: out has n + a block. */
static int
cipher_run(EVP_CIPHER_CTX *ctx, const uint8_t *in, size_t n, uint8_t *out,
           size_t *outlen)
{
	int a = 0, b = 0;

	if (n > INT_MAX || EVP_CipherUpdate(ctx, out, &a, in, (int)n) != 1 ||
	    EVP_CipherFinal_ex(ctx, out + a, &b) != 1)
		return -EBADMSG;
	*outlen = (size_t)a + (size_t)b;
	return 0;
}

/*
 * AES-GCM over in (n bytes) with aad; encrypting writes tag, decrypting
 * checks it (in constant time, inside OpenSSL) before returning 0.
 */
static int
gcm_run(const struct jwe_enc *enc, bool encrypt, const uint8_t *key,
        const uint8_t *iv, const char *aad, size_t aadlen,
        const uint8_t *in, size_t n, uint8_t *out, size_t *outlen,
        uint8_t *tag)
{
	EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *ctx;
	size_t ivlen = enc->iv_len;
	OSSL_PARAM iv_params[] = {
		OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &ivlen),
		OSSL_PARAM_construct_end(),
	};
	int a = 0, r;

	if (ivlen == AESNI_GCM_IV_LEN && enc->tag_len == AESNI_GCM_TAG_LEN) {
		r = aesni_gcm(encrypt, key, enc->key_len, iv,
		              (const uint8_t *)aad, aadlen, in, n, out, tag);
		if (r != -ENOTSUP) {
			*outlen = n;
			return r;
		}
	}
	cipher = EVP_CIPHER_fetch(NULL, enc->cipher, NULL);
	ctx = EVP_CIPHER_CTX_new();
	r = -ENOMEM;
	if (!cipher || !ctx)
		goto out;
	r = -EBADMSG;
	if (EVP_CipherInit_ex2(ctx, cipher, key, iv, encrypt, iv_params) != 1 ||
	    aadlen > INT_MAX ||
	    EVP_CipherUpdate(ctx, NULL, &a, (const uint8_t *)aad,
	                     (int)aadlen) != 1)
		goto out;
	if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG,
	                                    (int)enc->tag_len, tag) != 1)
		goto out;
	r = cipher_run(ctx, in, n, out, outlen);
	if (r == 0 && encrypt &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, (int)enc->tag_len,
	                        tag) != 1)
		r = -EBADMSG;
out:
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(cipher);
	return r;
}

/*
 * RFC 7518 5.2.2.1's tag: HMAC of AAD || IV || ciphertext || AAD's
 * length in bits (64-bit big-endian), under the CEK's first half, cut
 * to tag_len bytes.
 */
static int
cbc_hmac_tag(const struct jwe_enc *enc, const uint8_t *key,
             const uint8_t *iv, const char *aad, size_t aadlen,
             const uint8_t *ct, size_t ctlen, uint8_t *tag)
{
	uint8_t mac[EVP_MAX_MD_SIZE], al[8];
	uint64_t bits = (uint64_t)aadlen * 8;
	size_t maclen = 0;
	EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
		                                 (char *)enc->mac, 0),
		OSSL_PARAM_construct_end(),
	};
	int r = -ENOMEM;

	for (size_t i = 0; i < sizeof(al); i++)
		al[i] = (uint8_t)(bits >> (56 - 8 * i));
	if (ctx && EVP_MAC_init(ctx, key, enc->key_len / 2, params) == 1 &&
	    EVP_MAC_update(ctx, (const uint8_t *)aad, aadlen) == 1 &&
	    EVP_MAC_update(ctx, iv, enc->iv_len) == 1 &&
	    EVP_MAC_update(ctx, ct, ctlen) == 1 &&
	    EVP_MAC_update(ctx, al, sizeof(al)) == 1 &&
	    EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) == 1 &&
	    maclen >= enc->tag_len) {
		memcpy(tag, mac, enc->tag_len);
		r = 0;
	}
	explicit_bzero(mac, sizeof(mac));
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(hmac);
	return r;
}

/* AES-CBC under the CEK's second half; PKCS #7 padding. */
static int
cbc_run(const struct jwe_enc *enc, bool encrypt, const uint8_t *key,
        const uint8_t *iv, const uint8_t *in, size_t n, uint8_t *out,
        size_t *outlen)
{
	EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, enc->cipher, NULL);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int r = -ENOMEM;

	if (cipher && ctx)
		r = EVP_CipherInit_ex2(ctx, cipher, key + enc->key_len / 2, iv,
		                       encrypt, NULL) == 1 ?
		    cipher_run(ctx, in, n, out, outlen) : -EBADMSG;
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(cipher);
	return r;
}

/*
 * Encrypts n bytes of in into out (room for n + 16) and writes the tag:
 * the whole of a content encryption, aad being the encoded header.
 */
static int
content_encrypt(const struct jwe_enc *enc, const uint8_t *key,
                const uint8_t *iv, const char *aad, const uint8_t *in,
                size_t n, uint8_t *out, size_t *outlen, uint8_t *tag)
{
	size_t aadlen = strlen(aad);
	int r;

	if (!enc->mac)
		return gcm_run(enc, true, key, iv, aad, aadlen, in, n, out, outlen,
		               tag);
	r = cbc_run(enc, true, key, iv, in, n, out, outlen);
	return r < 0 ? r : cbc_hmac_tag(enc, key, iv, aad, aadlen, out,
	                                *outlen, tag);
}

/*
 * Checks the tag, then decrypts: a CBC ciphertext is not even decrypted
 * unless its tag holds, and a GCM one is released only once it held.
 */
static int
content_decrypt(const struct jwe_enc *enc, const uint8_t *key,
                const uint8_t *iv, const char *aad, const uint8_t *in,
                size_t n, uint8_t *tag, uint8_t *out, size_t *outlen)
{
	uint8_t want[32];
	size_t aadlen = strlen(aad);
	int r;

	if (!enc->mac)
		return gcm_run(enc, false, key, iv, aad, aadlen, in, n, out, outlen,
		               tag);
	r = cbc_hmac_tag(enc, key, iv, aad, aadlen, in, n, want);
	if (r == 0 && CRYPTO_memcmp(want, tag, enc->tag_len) != 0)
		r = -EBADMSG;
	if (r == 0)
		r = cbc_run(enc, false, key, iv, in, n, out, outlen);
	explicit_bzero(want, sizeof(want));
	return r;
}

/* A member's base64url, encoded and kept in j under name. */
static int
set_b64(json_t *j, const char *name, const uint8_t *buf, size_t n)
{
	json_t *v = b64_encode_json(buf, n);

	return v && json_object_set_new(j, name, v) == 0 ? 0 : -ENOMEM;
}

int
jwe_seal(const json_t *hdr, const uint8_t *cek, size_t cek_len,
         const uint8_t *pt, size_t len, char **out)
{
	const struct jwe_enc *enc = jwe_enc_find(json_string_value(
		json_object_get(hdr, "enc")));
	uint8_t iv[16], tag[32], *ct = NULL;
	char *text = NULL;
	json_t *jwe = NULL, *prt;
	size_t ctlen = 0;
	int r = -EINVAL;

	/* Nothing here compresses: a "zip" would be a lie. */
	if (!enc || cek_len != enc->key_len || len > JWE_PLAINTEXT_MAX ||
	    json_object_get(hdr, "zip"))
		return -EINVAL;
	text = json_dumps(hdr, JSON_SORT_KEYS | JSON_COMPACT);
	prt = text ? b64_encode_json((const uint8_t *)text, strlen(text)) : NULL;
	jwe = prt ? json_pack("{s:o}", "protected", prt) : NULL;
	ct = malloc(len + 16);
	r = jwe && ct ? random_bytes(iv, enc->iv_len) : -ENOMEM;
	if (r == 0)
		r = content_encrypt(enc, cek, iv, json_string_value(prt), pt, len,
		                    ct, &ctlen, tag);
	if (r == 0)
		r = set_b64(jwe, "iv", iv, enc->iv_len);
	if (r == 0)
		r = set_b64(jwe, "ciphertext", ct, ctlen);
	if (r == 0)
		r = set_b64(jwe, "tag", tag, enc->tag_len);
	if (r == 0)
		r = jwe_format_compact(jwe, out);
	free(ct);
	free(text);
	json_decref(jwe);
	return r;
}

/* A "dir" key: the bytes of an oct JWK's "k", exactly len of them. */
static int
dir_key(const json_t *jwk, uint8_t *key, size_t len)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	const json_t *k = json_object_get(jwk, "k");
	size_t n = 0;

	if (!kty || strcmp(kty, "oct") != 0 || !json_is_string(k) ||
	    b64_decoded_len(json_string_length(k)) != len)
		return -EINVAL;
	if (b64_decode(json_string_value(k), json_string_length(k), key, len,
	               &n) < 0 || n != len)
		return -EINVAL;
	return 0;
}

int
jwe_encrypt(const json_t *hdr, const json_t *jwk, const uint8_t *pt,
            size_t len, char **out)
{
	const char *alg = json_string_value(json_object_get(hdr, "alg"));
	const char *name = json_string_value(json_object_get(hdr, "enc"));
	const struct jwe_enc *enc;
	uint8_t cek[64];
	json_t *h;
	int r;

	if (json_object_get(hdr, "alg") && (!alg || strcmp(alg, "dir") != 0))
		return -EINVAL;
	/* As libjose: no "enc" means the key's own. */
	if (!name)
		name = json_string_value(json_object_get(jwk, "alg"));
	enc = jwe_enc_find(name);
	if (!enc)
		return -EINVAL;
	h = json_deep_copy(hdr);
	if (!h || json_object_set_new(h, "alg", json_string("dir")) < 0 ||
	    json_object_set_new(h, "enc", json_string(enc->name)) < 0) {
		json_decref(h);
		return -ENOMEM;
	}
	r = dir_key(jwk, cek, enc->key_len);
	if (r == 0)
		r = jwe_seal(h, cek, enc->key_len, pt, len, out);
	explicit_bzero(cek, sizeof(cek));
	json_decref(h);
	return r;
}

/* The CEK the header's alg names, from jwk: "dir", or "ECDH-ES" from
   the shared point. */
static int
content_key(const json_t *hdr, const json_t *jwk, const struct jwe_enc *enc,
            uint8_t *cek)
{
	const char *alg = json_string_value(json_object_get(hdr, "alg"));

	if (alg && strcmp(alg, "dir") == 0)
		return dir_key(jwk, cek, enc->key_len);
	if (alg && strcmp(alg, "ECDH-ES") == 0)
		return ecdh_es_key(hdr, jwk, enc, cek);
	return -EINVAL;
}

/* A member's bytes, exactly len of them (len 0: any length up to max). */
static int
member_bytes(const json_t *jwe, const char *name, size_t len, size_t max,
             uint8_t **out, size_t *outlen)
{
	int r = b64_decode_json(json_object_get(jwe, name), max, out, outlen);

	if (r == 0 && len && *outlen != len) {
		free(*out);
		*out = NULL;
		return -EBADMSG;
	}
	return r == -ENOMEM ? r : r < 0 ? -EBADMSG : 0;
}

/*
 * zlib, loaded the first time a JWE is compressed: clevis never writes
 * one, so no decrypt of its bindings loads it.
 */
static struct {
	__typeof__(inflateInit2_) *inflateInit2_;
	__typeof__(inflate) *inflate;
	__typeof__(inflateEnd) *inflateEnd;
} zlib;

static const char *const zlib_sonames[] = { "libz.so.1" };

static const struct dlib_symbol zlib_symbols[] = {
	DLIB_SYMBOL(__typeof__(zlib), 0, inflateInit2_),
	DLIB_SYMBOL(__typeof__(zlib), 0, inflate),
	DLIB_SYMBOL(__typeof__(zlib), 0, inflateEnd),
};

static struct dlib zlib_lib = DLIB_INIT("a compressed JWE needs zlib",
	"a compressed JWE needs zlib 1.2", zlib_sonames, zlib_symbols, &zlib);

/*
 * Inflates n bytes of raw DEFLATE (RFC 1951: "zip":"DEF") into a new
 * buffer of at most JWE_PLAINTEXT_MAX bytes: 348 KB of deflated zeros
 * inflate to 256 MiB. -EFBIG past that, -EBADMSG for a broken stream.
 */
static int
inflate_bounded(const uint8_t *in, size_t n, uint8_t **out, size_t *len)
{
	z_stream z = { 0 };
	uint8_t *buf;
	int zr;

	if (n > UINT_MAX)
		return -EBADMSG;
	if (dlib_load(&zlib_lib) < 0) {
		log_err("%s", dlib_error(&zlib_lib));
		return -ENOPKG;
	}
	buf = malloc(JWE_PLAINTEXT_MAX);
	if (!buf)
		return -ENOMEM;
	if (zlib.inflateInit2_(&z, -MAX_WBITS, ZLIB_VERSION,
	                       (int)sizeof(z)) != Z_OK) {
		free(buf);
		return -ENOMEM;
	}
	z.next_in = (uint8_t *)in;
	z.avail_in = (uInt)n;
	z.next_out = buf;
	z.avail_out = JWE_PLAINTEXT_MAX;
	zr = zlib.inflate(&z, Z_FINISH);
	*len = JWE_PLAINTEXT_MAX - z.avail_out;
	zlib.inflateEnd(&z);
	if (zr != Z_STREAM_END) {
		free_secret(buf, JWE_PLAINTEXT_MAX);
		return z.avail_out == 0 ? -EFBIG : -EBADMSG;
	}
	*out = buf;
	return 0;
}

/* The parts of a JWE past its header, decoded with their exact lengths. */
struct jwe_body {
	uint8_t *iv;
	uint8_t *ct;
	uint8_t *tag;
	size_t ivlen;
	size_t ctlen;
	size_t taglen;
};

static void
jwe_body_free(struct jwe_body *p)
{
	free(p->iv);
	free(p->ct);
	free(p->tag);
}

static int
jwe_body_decode(const json_t *jwe, const struct jwe_enc *enc,
                struct jwe_body *p)
{
	int r = member_bytes(jwe, "iv", enc->iv_len, enc->iv_len, &p->iv,
	                     &p->ivlen);

	if (r == 0)
		r = member_bytes(jwe, "tag", enc->tag_len, enc->tag_len, &p->tag,
		                 &p->taglen);
	if (r == 0)
		r = member_bytes(jwe, "ciphertext", 0, JWE_MAX, &p->ct, &p->ctlen);
	return r;
}

/* Decrypts parts with cek, then inflates if the header says "zip". */
static int
open_parts(const json_t *hdr, const char *prt, const struct jwe_enc *enc,
           const uint8_t *cek, struct jwe_body *p, uint8_t **pt,
           size_t *len)
{
	const json_t *zip = json_object_get(hdr, "zip");
	uint8_t *buf = malloc(p->ctlen + 16);
	size_t n = 0;
	int r;

	if (zip && (!json_is_string(zip) ||
	            strcmp(json_string_value(zip), "DEF") != 0)) {
		free(buf);
		return -EBADMSG;
	}
	if (!buf)
		return -ENOMEM;
	r = content_decrypt(enc, cek, p->iv, prt, p->ct, p->ctlen, p->tag, buf,
	                    &n);
	if (r == 0 && zip) {
		r = inflate_bounded(buf, n, pt, len);
		free_secret(buf, p->ctlen + 16);
		return r;
	}
	if (r < 0) {
		free_secret(buf, p->ctlen + 16);
		return r;
	}
	*pt = buf;
	*len = n;
	return 0;
}

int
jwe_decrypt(const json_t *jwe, const json_t *jwk, uint8_t **pt, size_t *len)
{
	const char *prt = json_string_value(json_object_get(jwe, "protected"));
	json_t *hdr = b64_decode_object(json_object_get(jwe, "protected"),
	                                JWE_MAX);
	const struct jwe_enc *enc = jwe_enc_find(json_string_value(
		json_object_get(hdr, "enc")));
	struct jwe_body parts = { 0 };
	uint8_t cek[64];
	int r = -EBADMSG;

	if (prt && enc && content_key(hdr, jwk, enc, cek) == 0) {
		r = jwe_body_decode(jwe, enc, &parts);
		if (r == 0)
			r = open_parts(hdr, prt, enc, cek, &parts, pt, len);
	}
	explicit_bzero(cek, sizeof(cek));
	jwe_body_free(&parts);
	json_decref(hdr);
	return r;
}
