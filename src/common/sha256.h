/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_COMMON_SHA256_H
#define TETHER_COMMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/sha.h>

#define SHA256_LEN 32

/*
 * SHA-256 without OpenSSL 3's provider machinery: see sha256.c. Each
 * returns 0, or -EINVAL if OpenSSL refused; sha256_final wipes the state
 * either way.
 */
struct sha256 {
	SHA256_CTX ctx;
};

int sha256_init(struct sha256 *s);
int sha256_update(struct sha256 *s, const void *p, size_t n);
int sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN]);

/* The digest of n bytes at p. */
int sha256(const void *p, size_t n, uint8_t out[SHA256_LEN]);

#endif
