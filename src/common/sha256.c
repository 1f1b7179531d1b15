/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * OpenSSL 3's EVP digests come from a provider: the first fetch in a
 * process activates the default provider and builds its whole table of
 * digests, about 5 million instructions, more than the rest of a
 * `tether decrypt` besides its two point multiplications. SHA256() itself
 * goes through that fetch. The SHA256_* functions run the same code
 * (SHA-NI or AVX2 where the CPU has them) directly; they are deprecated
 * in favour of EVP, not withdrawn, so only this file uses them.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "common/sha256.h"

#include <errno.h>

#include <openssl/crypto.h>

int
sha256_init(struct sha256 *s)
{
	return SHA256_Init(&s->ctx) == 1 ? 0 : -EINVAL;
}

int
sha256_update(struct sha256 *s, const void *p, size_t n)
{
	return SHA256_Update(&s->ctx, p, n) == 1 ? 0 : -EINVAL;
}

int
sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN])
{
	int ok = SHA256_Final(out, &s->ctx) == 1;

	OPENSSL_cleanse(&s->ctx, sizeof(s->ctx));
	return ok ? 0 : -EINVAL;
}

int
sha256(const void *p, size_t n, uint8_t out[SHA256_LEN])
{
	struct sha256 s;

	if (sha256_init(&s) < 0 || sha256_update(&s, p, n) < 0) {
		OPENSSL_cleanse(&s, sizeof(s));
		return -EINVAL;
	}
	return sha256_final(&s, out);
}
