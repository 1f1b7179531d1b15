/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "client/shamir.h"

#include <errno.h>
#include <stdlib.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>

struct shamir {
	BIGNUM *p;
	BIGNUM *coef[SHAMIR_MAX_SHARES];	/* coef[0] is the secret */
	size_t t;
};

void
shamir_free(struct shamir *s)
{
	if (!s)
		return;
	BN_free(s->p);
	for (size_t i = 0; i < s->t; i++)
		BN_clear_free(s->coef[i]);
	free(s);
}

struct shamir *
shamir_new(size_t t)
{
	struct shamir *s;

	if (t < 1 || t > SHAMIR_MAX_SHARES)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->p = BN_new();
	/* Any prime of the size works; a safe prime only costs time. */
	if (!s->p || !BN_generate_prime_ex(s->p, SHAMIR_LEN * 8, 0, NULL, NULL,
	                                   NULL)) {
		shamir_free(s);
		return NULL;
	}
	for (; s->t < t; s->t++) {
		s->coef[s->t] = BN_secure_new();
		if (!s->coef[s->t] || !BN_rand_range(s->coef[s->t], s->p)) {
			s->t++;
			shamir_free(s);
			return NULL;
		}
	}
	return s;
}

static int
encode(const BIGNUM *v, uint8_t *out, size_t len)
{
	return BN_bn2binpad(v, out, (int)len) == (int)len ? 0 : -EINVAL;
}

int
shamir_prime(const struct shamir *s, uint8_t out[SHAMIR_LEN])
{
	return encode(s->p, out, SHAMIR_LEN);
}

int
shamir_secret(const struct shamir *s, uint8_t out[SHAMIR_LEN])
{
	return encode(s->coef[0], out, SHAMIR_LEN);
}

int
shamir_share(const struct shamir *s, uint8_t out[2 * SHAMIR_LEN])
{
	BN_CTX *ctx = BN_CTX_secure_new();
	BIGNUM *x, *y, *xi;
	int r = -ENOMEM;

	if (!ctx)
		return -ENOMEM;
	BN_CTX_start(ctx);
	x = BN_CTX_get(ctx);
	y = BN_CTX_get(ctx);
	xi = BN_CTX_get(ctx);
	/* x = 0 would hand out the secret itself. */
	if (!xi || !BN_rand_range(x, s->p) || BN_is_zero(x) || !BN_set_word(y, 0) ||
	    !BN_one(xi))
		goto out;
	for (size_t i = 0; i < s->t; i++) {
		BIGNUM *term = BN_CTX_get(ctx);

		/* y += coef[i] * x^i; xi walks through the powers of x. */
		if (!term || !BN_mod_mul(term, s->coef[i], xi, s->p, ctx) ||
		    !BN_mod_add(y, y, term, s->p, ctx) ||
		    !BN_mod_mul(xi, xi, x, s->p, ctx))
			goto out;
	}
	r = encode(x, out, SHAMIR_LEN);
	if (r == 0)
		r = encode(y, out + SHAMIR_LEN, SHAMIR_LEN);
out:
	BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	return r;
}

/* The Lagrange basis of share i at 0: prod over j != i of x_j / (x_j - x_i). */
static int
basis_at_zero(const BIGNUM *p, BIGNUM *const *xs, size_t n, size_t i,
              BIGNUM *acc, BN_CTX *ctx)
{
	BIGNUM *d = BN_CTX_get(ctx);

	if (!d || !BN_one(acc))
		return -ENOMEM;
	for (size_t j = 0; j < n; j++) {
		if (j == i)
			continue;
		if (!BN_mod_sub(d, xs[j], xs[i], p, ctx))
			return -ENOMEM;
		if (BN_is_zero(d) || !BN_mod_inverse(d, d, p, ctx))
			return -EINVAL;
		if (!BN_mod_mul(acc, acc, xs[j], p, ctx) ||
		    !BN_mod_mul(acc, acc, d, p, ctx))
			return -ENOMEM;
	}
	return 0;
}

int
shamir_combine(const uint8_t *prime, size_t len, const uint8_t *const *shares,
               size_t n, uint8_t *secret)
{
	BIGNUM *xs[SHAMIR_MAX_SHARES], *p, *k, *acc, *y;
	BN_CTX *ctx;
	int r = -ENOMEM;

	if (n < 1 || n > SHAMIR_MAX_SHARES || len < 1 || len > 512)
		return -EINVAL;
	ctx = BN_CTX_secure_new();
	if (!ctx)
		return -ENOMEM;
	BN_CTX_start(ctx);
	p = BN_CTX_get(ctx);
	k = BN_CTX_get(ctx);
	acc = BN_CTX_get(ctx);
	y = BN_CTX_get(ctx);
	if (!y || !BN_bin2bn(prime, (int)len, p) || !BN_set_word(k, 0))
		goto out;
	for (size_t i = 0; i < n; i++) {
		xs[i] = BN_CTX_get(ctx);
		if (!xs[i] || !BN_bin2bn(shares[i], (int)len, xs[i]))
			goto out;
		if (BN_cmp(xs[i], p) >= 0) {
			r = -EINVAL;
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		r = basis_at_zero(p, xs, n, i, acc, ctx);
		if (r < 0)
			goto out;
		r = -ENOMEM;
		if (!BN_bin2bn(shares[i] + len, (int)len, y))
			goto out;
		if (BN_cmp(y, p) >= 0) {
			r = -EINVAL;
			goto out;
		}
		if (!BN_mod_mul(acc, acc, y, p, ctx) ||
		    !BN_mod_add(k, k, acc, p, ctx))
			goto out;
	}
	r = encode(k, secret, len);
out:
	BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	return r;
}
