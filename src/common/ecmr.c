/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "common/ecmr.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>

#include "common/b64.h"
#include "common/jwk.h"
#include "common/util.h"

/* P-521 coordinates take 66 bytes; no supported curve needs more. */
#define FIELD_MAX 66

struct ecmr_key {
	EC_GROUP *group;
	BIGNUM *prime;
	BIGNUM *d;
	const char *crv;
	int nid;
	size_t field_len;
};

static const struct {
	const char *crv;
	int nid;
	size_t field_len;
} ecmr_curves[] = {
	{ "P-256", NID_X9_62_prime256v1, 32 },
	{ "P-384", NID_secp384r1, 48 },
	{ "P-521", NID_secp521r1, 66 },
};

/*
 * Decodes the base64url member name of jwk, which must encode exactly
 * len bytes (RFC 7518 fixes coordinate lengths), into out.
 */
static int
member_bytes(const json_t *jwk, const char *name, size_t len,
             uint8_t out[FIELD_MAX])
{
	const char *s = json_string_value(json_object_get(jwk, name));

	size_t n = 0;

	if (!s || len > FIELD_MAX ||
	    json_string_length(json_object_get(jwk, name)) !=
	            b64_encoded_len(len))
		return -EINVAL;
	if (b64_decode(s, b64_encoded_len(len), out, len, &n) < 0 || n != len)
		return -EINVAL;
	return 0;
}

void
ecmr_key_free(struct ecmr_key *key)
{
	if (!key)
		return;
	EC_GROUP_free(key->group);
	BN_free(key->prime);
	BN_clear_free(key->d);
	free(key);
}

static int
curve_index(const char *crv)
{
	if (!crv)
		return -1;
	for (size_t i = 0; i < sizeof(ecmr_curves) / sizeof(ecmr_curves[0]); i++)
		if (strcmp(crv, ecmr_curves[i].crv) == 0)
			return (int)i;
	return -1;
}

static int
key_scalar(struct ecmr_key *key, const json_t *jwk)
{
	uint8_t raw[FIELD_MAX];
	const BIGNUM *order = EC_GROUP_get0_order(key->group);
	int r = member_bytes(jwk, "d", key->field_len, raw);

	if (r < 0)
		return r;
	key->d = BN_secure_new();
	if (!key->d || !BN_bin2bn(raw, (int)key->field_len, key->d))
		r = -ENOMEM;
	else if (BN_is_zero(key->d) || BN_cmp(key->d, order) >= 0)
		r = -EINVAL;
	else
		BN_set_flags(key->d, BN_FLG_CONSTTIME);
	OPENSSL_cleanse(raw, sizeof(raw));
	return r;
}

size_t
ecmr_field_len(const char *crv)
{
	int i = curve_index(crv);

	return i < 0 ? 0 : ecmr_curves[i].field_len;
}

/* A key with its curve set up and no scalar yet; NULL for other curves. */
static struct ecmr_key *
curve_new(const char *crv, int *err)
{
	int i = curve_index(crv);
	struct ecmr_key *key;

	*err = -EINVAL;
	if (i < 0)
		return NULL;
	*err = -ENOMEM;
	key = calloc(1, sizeof(*key));
	if (!key)
		return NULL;
	key->crv = ecmr_curves[i].crv;
	key->nid = ecmr_curves[i].nid;
	key->field_len = ecmr_curves[i].field_len;
	key->group = EC_GROUP_new_by_curve_name(ecmr_curves[i].nid);
	key->prime = BN_new();
	if (!key->group || !key->prime ||
	    !EC_GROUP_get_curve(key->group, key->prime, NULL, NULL, NULL)) {
		ecmr_key_free(key);
		return NULL;
	}
	*err = 0;
	return key;
}

int
ecmr_key_load(const json_t *jwk, struct ecmr_key **out)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	struct ecmr_key *key;
	int r;

	if (!kty || strcmp(kty, "EC") != 0)
		return -EINVAL;
	key = curve_new(json_string_value(json_object_get(jwk, "crv")), &r);
	if (!key)
		return r;
	r = key_scalar(key, jwk);
	if (r < 0) {
		ecmr_key_free(key);
		return r;
	}
	*out = key;
	return 0;
}

/* Reads the request's coordinates into p, refusing anything off the curve. */
static int
request_point(const struct ecmr_key *key, const json_t *req, EC_POINT *p,
              BN_CTX *ctx)
{
	const char *crv = json_string_value(json_object_get(req, "crv"));
	uint8_t raw[FIELD_MAX];
	BIGNUM *x, *y;
	int r;

	if (!crv || strcmp(crv, key->crv) != 0)
		return -EINVAL;
	BN_CTX_start(ctx);
	x = BN_CTX_get(ctx);
	y = BN_CTX_get(ctx);
	r = x && y ? 0 : -ENOMEM;
	if (r == 0)
		r = member_bytes(req, "x", key->field_len, raw);
	if (r == 0 && !BN_bin2bn(raw, (int)key->field_len, x))
		r = -ENOMEM;
	if (r == 0)
		r = member_bytes(req, "y", key->field_len, raw);
	if (r == 0 && !BN_bin2bn(raw, (int)key->field_len, y))
		r = -ENOMEM;
	/* Coordinates must be field elements, not values reduced into one. */
	if (r == 0 && (BN_cmp(x, key->prime) >= 0 || BN_cmp(y, key->prime) >= 0))
		r = -EINVAL;
	if (r == 0 && !EC_POINT_set_affine_coordinates(key->group, p, x, y, ctx))
		r = -EINVAL;
	if (r == 0 && EC_POINT_is_on_curve(key->group, p, ctx) != 1)
		r = -EINVAL;
	BN_CTX_end(ctx);
	return r;
}

int
ecmr_key_check_point(const struct ecmr_key *key, const json_t *jwk)
{
	BN_CTX *ctx = BN_CTX_new();
	EC_POINT *p = EC_POINT_new(key->group);
	int r = ctx && p ? request_point(key, jwk, p, ctx) : -ENOMEM;

	EC_POINT_free(p);
	BN_CTX_free(ctx);
	return r;
}

static int
encode_coordinate(const struct ecmr_key *key, const BIGNUM *v,
                  char out[2 * FIELD_MAX])
{
	uint8_t raw[FIELD_MAX];
	int r = -EINVAL;

	if (BN_bn2binpad(v, raw, (int)key->field_len) == (int)key->field_len)
		r = b64_encode(raw, key->field_len, out, 2 * FIELD_MAX);
	explicit_bzero(raw, sizeof(raw));
	return r < 0 ? -EINVAL : 0;
}

/*
 * The base64url coordinates of q; -EINVAL for the identity, which has
 * none. They may be a secret (a recovered point): the caller wipes them.
 */
static int
point_coordinates(const struct ecmr_key *key, const EC_POINT *q, BN_CTX *ctx,
                  char xs[2 * FIELD_MAX], char ys[2 * FIELD_MAX])
{
	BIGNUM *x, *y;
	int r;

	BN_CTX_start(ctx);
	x = BN_CTX_get(ctx);
	y = BN_CTX_get(ctx);
	r = x && y ? 0 : -ENOMEM;
	if (r == 0 && !EC_POINT_get_affine_coordinates(key->group, q, x, y, ctx))
		r = -EINVAL;
	if (r == 0)
		r = encode_coordinate(key, x, xs);
	if (r == 0)
		r = encode_coordinate(key, y, ys);
	BN_CTX_end(ctx);
	return r;
}

static int
encode_reply(const struct ecmr_key *key, const EC_POINT *q, BN_CTX *ctx,
             char reply[ECMR_REPLY_MAX], size_t *len)
{
	char xs[2 * FIELD_MAX], ys[2 * FIELD_MAX];
	int r = point_coordinates(key, q, ctx, xs, ys), n;

	if (r < 0)
		return r;
	n = snprintf(reply, ECMR_REPLY_MAX,
	             "{\"alg\":\"ECMR\",\"crv\":\"%s\","
	             "\"key_ops\":[\"deriveKey\"],\"kty\":\"EC\","
	             "\"x\":\"%s\",\"y\":\"%s\"}", key->crv, xs, ys);
	if (n < 0 || n >= ECMR_REPLY_MAX)
		return -EINVAL;
	*len = (size_t)n;
	return 0;
}

int
ecmr_exchange(const struct ecmr_key *key, const json_t *req,
              char reply[ECMR_REPLY_MAX], size_t *len)
{
	EC_POINT *p = NULL, *q = NULL;
	BN_CTX *ctx = BN_CTX_new();
	int r = -ENOMEM;

	if (!ctx)
		return -ENOMEM;
	p = EC_POINT_new(key->group);
	q = EC_POINT_new(key->group);
	if (!p || !q)
		goto out;
	r = request_point(key, req, p, ctx);
	if (r < 0)
		goto out;
	if (!EC_POINT_mul(key->group, q, NULL, p, key->d, ctx)) {
		r = -ENOMEM;
		goto out;
	}
	/* Prime-order curves: only the identity could come out degenerate. */
	if (EC_POINT_is_at_infinity(key->group, q)) {
		r = -EINVAL;
		goto out;
	}
	r = encode_reply(key, q, ctx, reply, len);
out:
	EC_POINT_free(p);
	EC_POINT_clear_free(q);
	BN_CTX_free(ctx);
	return r;
}

/* A public EC JWK on key's curve, into p; anything off the curve fails. */
static int
public_point(const struct ecmr_key *key, const json_t *jwk, EC_POINT *p,
             BN_CTX *ctx)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));

	if (!kty || strcmp(kty, "EC") != 0)
		return -EINVAL;
	return request_point(key, jwk, p, ctx);
}

int
ecmr_point_check(const json_t *jwk, const char *crv)
{
	struct ecmr_key *curve;
	BN_CTX *ctx = NULL;
	EC_POINT *p = NULL;
	int r;

	curve = curve_new(crv, &r);
	if (!curve)
		return r;
	ctx = BN_CTX_new();
	p = EC_POINT_new(curve->group);
	r = ctx && p ? public_point(curve, jwk, p, ctx) : -ENOMEM;
	EC_POINT_free(p);
	BN_CTX_free(ctx);
	ecmr_key_free(curve);
	return r;
}

/* The JWK of q, with alg if not NULL; -EINVAL for the identity. */
static int
point_jwk(const struct ecmr_key *key, const EC_POINT *q, BN_CTX *ctx,
          const char *alg, json_t **out)
{
	char xs[2 * FIELD_MAX], ys[2 * FIELD_MAX];
	int r = point_coordinates(key, q, ctx, xs, ys);

	if (r == 0) {
		*out = json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv",
		                 key->crv, "x", xs, "y", ys);
		if (*out && alg &&
		    json_object_set_new(*out, "alg", json_string(alg)) < 0) {
			jwk_free_wiped(*out);
			*out = NULL;
		}
		r = *out ? 0 : -ENOMEM;
	}
	explicit_bzero(xs, sizeof(xs));
	explicit_bzero(ys, sizeof(ys));
	return r;
}

/* Draws past the order are drawn again; this many in a row mean a broken
   source (P-256's order rejects one draw in 2^32). */
#define SCALAR_DRAWS 64

/*
 * A fresh secret scalar for key, uniform in [1, order): field_len bytes
 * from the kernel, cut to the order's bit length, drawn again while out
 * of range. getrandom(2) rather than OpenSSL's DRBG, whose set-up costs
 * a command more than the two multiplications it feeds.
 */
static int
random_scalar(struct ecmr_key *key)
{
	const BIGNUM *order = EC_GROUP_get0_order(key->group);
	int bits = BN_num_bits(order), r = -EIO;
	uint8_t raw[FIELD_MAX];

	key->d = BN_secure_new();
	if (!key->d)
		return -ENOMEM;
	BN_set_flags(key->d, BN_FLG_CONSTTIME);
	for (int i = 0; r == -EIO && i < SCALAR_DRAWS; i++) {
		if (random_bytes(raw, key->field_len) < 0)
			break;
		if (bits % 8)
			raw[0] &= (uint8_t)((1u << (bits % 8)) - 1);
		if (!BN_bin2bn(raw, (int)key->field_len, key->d))
			r = -ENOMEM;
		else if (!BN_is_zero(key->d) && BN_cmp(key->d, order) < 0)
			r = 0;
	}
	explicit_bzero(raw, sizeof(raw));
	return r;
}

struct ecmr_blinding {
	struct ecmr_key *key;  /* e, on the binding's curve */
	EC_POINT *srv;         /* S, checked to be on the curve */
};

void
ecmr_blinding_free(struct ecmr_blinding *b)
{
	if (!b)
		return;
	EC_POINT_free(b->srv);
	ecmr_key_free(b->key);
	free(b);
}

int
ecmr_blind(const json_t *epk, const json_t *srv, struct ecmr_blinding **out,
           json_t **xfr)
{
	struct ecmr_blinding *b = calloc(1, sizeof(*b));
	BN_CTX *ctx = BN_CTX_new();
	EC_POINT *c = NULL, *x = NULL;
	int r = -ENOMEM;

	if (!b || !ctx)
		goto out;
	b->key = curve_new(json_string_value(json_object_get(epk, "crv")), &r);
	if (!b->key)
		goto out;
	r = -ENOMEM;
	c = EC_POINT_new(b->key->group);
	x = EC_POINT_new(b->key->group);
	b->srv = EC_POINT_new(b->key->group);
	if (!c || !x || !b->srv)
		goto out;
	r = public_point(b->key, epk, c, ctx);
	if (r == 0)
		r = public_point(b->key, srv, b->srv, ctx);
	if (r == 0)
		r = random_scalar(b->key);
	if (r == 0 && (!EC_POINT_mul(b->key->group, x, b->key->d, NULL, NULL,
	                             ctx) ||
	               !EC_POINT_add(b->key->group, x, x, c, ctx)))
		r = -ENOMEM;
	/* Tang's clients send the sum as an ECMR JWK. */
	if (r == 0)
		r = point_jwk(b->key, x, ctx, "ECMR", xfr);
out:
	EC_POINT_free(c);
	EC_POINT_free(x);
	BN_CTX_free(ctx);
	if (r < 0)
		ecmr_blinding_free(b);
	else
		*out = b;
	return r;
}

int
ecmr_unblind(const struct ecmr_blinding *b, const json_t *reply, json_t **key)
{
	const EC_GROUP *group = b->key->group;
	BN_CTX *ctx = BN_CTX_new();
	EC_POINT *y = ctx ? EC_POINT_new(group) : NULL;
	EC_POINT *es = ctx ? EC_POINT_new(group) : NULL;
	int r = y && es ? 0 : -ENOMEM;

	if (r == 0)
		r = public_point(b->key, reply, y, ctx);
	if (r == 0 && (!EC_POINT_mul(group, es, NULL, b->srv, b->key->d, ctx) ||
	               !EC_POINT_invert(group, es, ctx) ||
	               !EC_POINT_add(group, y, y, es, ctx)))
		r = -ENOMEM;
	if (r == 0)
		r = point_jwk(b->key, y, ctx, NULL, key);
	EC_POINT_clear_free(es);
	EC_POINT_clear_free(y);
	BN_CTX_free(ctx);
	return r;
}

int
ecmr_agree(const json_t *srv, json_t **epk, uint8_t z[ECMR_SECRET_MAX],
           size_t *zlen)
{
	struct ecmr_key *key;
	BN_CTX *ctx = BN_CTX_new();
	EC_POINT *s = NULL, *e = NULL;
	BIGNUM *x = NULL;
	int r = -ENOMEM;

	if (!ctx)
		return -ENOMEM;
	key = curve_new(json_string_value(json_object_get(srv, "crv")), &r);
	if (!key)
		goto out;
	r = -ENOMEM;
	s = EC_POINT_new(key->group);
	e = EC_POINT_new(key->group);
	x = BN_secure_new();
	if (!s || !e || !x)
		goto out;
	r = public_point(key, srv, s, ctx);
	if (r == 0)
		r = random_scalar(key);
	if (r == 0 && !EC_POINT_mul(key->group, e, key->d, NULL, NULL, ctx))
		r = -ENOMEM;
	if (r == 0)
		r = point_jwk(key, e, ctx, NULL, epk);
	if (r == 0 && (!EC_POINT_mul(key->group, s, NULL, s, key->d, ctx) ||
	               !EC_POINT_get_affine_coordinates(key->group, s, x, NULL,
	                                                ctx) ||
	               BN_bn2binpad(x, z, (int)key->field_len) !=
	                       (int)key->field_len)) {
		json_decref(*epk);
		r = -EINVAL;
	}
	if (r == 0)
		*zlen = key->field_len;
out:
	BN_clear_free(x);
	EC_POINT_clear_free(s);
	EC_POINT_free(e);
	BN_CTX_free(ctx);
	ecmr_key_free(key);
	return r;
}

/* key's scalar as the JWK member "d", the curve's field size long. */
static int
set_scalar(const struct ecmr_key *key, json_t *jwk)
{
	char ds[2 * FIELD_MAX];
	json_t *d;
	int r = encode_coordinate(key, key->d, ds);

	d = r == 0 ? json_string(ds) : NULL;
	explicit_bzero(ds, sizeof(ds));
	if (!d || json_object_set_new(jwk, "d", d) < 0)
		return r < 0 ? r : -ENOMEM;
	return 0;
}

int
ecmr_generate(const char *crv, json_t **jwk)
{
	struct ecmr_key *key;
	BN_CTX *ctx = NULL;
	EC_POINT *q = NULL;
	int r;

	key = curve_new(crv, &r);
	if (!key)
		return r;
	r = -ENOMEM;
	ctx = BN_CTX_new();
	q = EC_POINT_new(key->group);
	if (ctx && q)
		r = random_scalar(key);
	if (r == 0 && !EC_POINT_mul(key->group, q, key->d, NULL, NULL, ctx))
		r = -ENOMEM;
	if (r == 0)
		r = point_jwk(key, q, ctx, NULL, jwk);
	if (r == 0 && (r = set_scalar(key, *jwk)) < 0)
		jwk_free_secret(*jwk);
	EC_POINT_free(q);
	BN_CTX_free(ctx);
	ecmr_key_free(key);
	return r;
}

static const struct {
	const char *alg;
	const char *crv;
	const char *digest;
} es_algs[] = {
	{ "ES256", "P-256", "SHA256" },
	{ "ES384", "P-384", "SHA384" },
	{ "ES512", "P-521", "SHA512" },
};

/* p as an OpenSSL public key, for EVP's ECDSA. */
static EVP_PKEY *
public_pkey(const struct ecmr_key *key, const EC_POINT *p, BN_CTX *ctx)
{
	uint8_t oct[1 + 2 * FIELD_MAX];
	size_t n = EC_POINT_point2oct(key->group, p, POINT_CONVERSION_UNCOMPRESSED,
	                              oct, sizeof(oct), ctx);
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
		                                 (char *)OBJ_nid2sn(key->nid), 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, oct, n),
		OSSL_PARAM_construct_end(),
	};

	if (n == 0 || !pctx || EVP_PKEY_fromdata_init(pctx) <= 0 ||
	    EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(pctx);
	return pkey;
}

/* JWS's R || S, each field_len bytes, as the DER EVP's ECDSA takes. */
static int
signature_der(const uint8_t *sig, size_t field_len, uint8_t **der)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)field_len, NULL);
	BIGNUM *s = BN_bin2bn(sig + field_len, (int)field_len, NULL);
	int n = -1;

	if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
		r = s = NULL;
		n = i2d_ECDSA_SIG(es, der);
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return n;
}

static int
verify_der(const struct ecmr_key *key, const EC_POINT *p, const char *digest,
           const uint8_t *der, size_t derlen, const void *msg, size_t len,
           BN_CTX *ctx)
{
	EVP_PKEY *pkey = public_pkey(key, p, ctx);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int r = -ENOMEM;

	if (pkey && md &&
	    EVP_DigestVerifyInit_ex(md, NULL, digest, NULL, NULL, pkey, NULL) == 1)
		r = EVP_DigestVerify(md, der, derlen, msg, len) == 1 ? 0 : -EBADMSG;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	return r;
}

int
ecmr_verify(const json_t *jwk, const char *alg, const uint8_t *sig,
            size_t siglen, const void *msg, size_t len)
{
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	struct ecmr_key *key;
	EC_POINT *p = NULL;
	uint8_t *der = NULL;
	BN_CTX *ctx = NULL;
	size_t i;
	int r, n;

	for (i = 0; i < sizeof(es_algs) / sizeof(es_algs[0]); i++)
		if (alg && strcmp(alg, es_algs[i].alg) == 0)
			break;
	if (i == sizeof(es_algs) / sizeof(es_algs[0]))
		return -ENOTSUP;
	if (!crv || strcmp(crv, es_algs[i].crv) != 0)
		return -EINVAL;
	key = curve_new(crv, &r);
	if (!key)
		return r;
	ctx = BN_CTX_new();
	p = EC_POINT_new(key->group);
	r = ctx && p ? public_point(key, jwk, p, ctx) : -ENOMEM;
	if (r == 0 && siglen != 2 * key->field_len)
		r = -EBADMSG;
	if (r == 0) {
		n = signature_der(sig, key->field_len, &der);
		r = n > 0 ? verify_der(key, p, es_algs[i].digest, der, (size_t)n,
		                       msg, len, ctx) : -ENOMEM;
	}
	OPENSSL_free(der);
	EC_POINT_free(p);
	BN_CTX_free(ctx);
	ecmr_key_free(key);
	return r;
}
