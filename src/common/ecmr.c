/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "common/ecmr.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jose/b64.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

/* P-521 coordinates take 66 bytes; no supported curve needs more. */
#define FIELD_MAX 66

struct ecmr_key {
	EC_GROUP *group;
	BIGNUM *prime;
	BIGNUM *d;
	const char *crv;
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

static size_t
b64_len(size_t raw)
{
	return (raw * 4 + 2) / 3;
}

/*
 * Decodes the base64url member name of jwk, which must encode exactly
 * len bytes (RFC 7518 fixes coordinate lengths), into out.
 */
static int
member_bytes(const json_t *jwk, const char *name, size_t len,
             uint8_t out[FIELD_MAX])
{
	const char *s = json_string_value(json_object_get(jwk, name));

	if (!s || len > FIELD_MAX || strlen(s) != b64_len(len))
		return -EINVAL;
	if (jose_b64_dec_buf(s, b64_len(len), out, len) != len)
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
	size_t n;

	if (BN_bn2binpad(v, raw, (int)key->field_len) != (int)key->field_len)
		return -EINVAL;
	n = jose_b64_enc_buf(raw, key->field_len, out, 2 * FIELD_MAX - 1);
	if (n == SIZE_MAX)
		return -EINVAL;
	out[n] = '\0';
	return 0;
}

static int
encode_reply(const struct ecmr_key *key, const EC_POINT *q, BN_CTX *ctx,
             char reply[ECMR_REPLY_MAX], size_t *len)
{
	char xs[2 * FIELD_MAX], ys[2 * FIELD_MAX];
	BIGNUM *x, *y;
	int r, n;

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

int
ecmr_point_check(const json_t *jwk, const char *crv)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	struct ecmr_key *curve;
	BN_CTX *ctx = NULL;
	EC_POINT *p = NULL;
	int r;

	if (!kty || strcmp(kty, "EC") != 0)
		return -EINVAL;
	curve = curve_new(crv, &r);
	if (!curve)
		return r;
	ctx = BN_CTX_new();
	p = EC_POINT_new(curve->group);
	r = ctx && p ? request_point(curve, jwk, p, ctx) : -ENOMEM;
	EC_POINT_free(p);
	BN_CTX_free(ctx);
	ecmr_key_free(curve);
	return r;
}
