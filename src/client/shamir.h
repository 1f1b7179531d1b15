/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_SHAMIR_H
#define TETHER_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

/*
 * Shamir's secret sharing over a prime field, in clevis's encoding: the
 * prime and every value are big-endian numbers of exactly len bytes; a
 * share is x || y (2 * len bytes); the secret is the polynomial at 0.
 */
#define SHAMIR_LEN 32		/* a 256-bit field: an A256GCM key */
#define SHAMIR_MAX_SHARES 64

struct shamir;

/*
 * Picks a random prime of SHAMIR_LEN bytes and a random polynomial of
 * degree t - 1; its constant term is the secret. NULL on failure.
 */
struct shamir *shamir_new(size_t t);

/* Wipes and frees; accepts NULL. */
void shamir_free(struct shamir *s);

/* Writes the prime and the secret, each SHAMIR_LEN bytes. */
int shamir_prime(const struct shamir *s, uint8_t out[SHAMIR_LEN]);
int shamir_secret(const struct shamir *s, uint8_t out[SHAMIR_LEN]);

/* Writes a new share (x at random, y on the polynomial). */
int shamir_share(const struct shamir *s, uint8_t out[2 * SHAMIR_LEN]);

/*
 * Recovers the secret from n shares of len * 2 bytes each under prime
 * (len bytes), by Lagrange interpolation at 0. -EINVAL for shares that
 * are not field elements or repeat an x.
 */
int shamir_combine(const uint8_t *prime, size_t len, const uint8_t *const *shares,
                   size_t n, uint8_t *secret);

#endif
