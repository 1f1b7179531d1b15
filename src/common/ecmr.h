/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_ECMR_H
#define TETHER_ECMR_H

#include <jansson.h>
#include <stddef.h>

/*
 * The server half of the McCallum-Relyea exchange: the client's point times
 * the server's private scalar. One point multiplication and an on-curve
 * check, where the generic JOSE path rebuilds and re-validates both keys.
 */
struct ecmr_key;

/* Longest reply: P-521 coordinates are 88 base64url characters each. */
#define ECMR_REPLY_MAX 512

/*
 * Loads the private scalar and curve of an EC JWK (P-256, P-384 or P-521).
 * Returns 0, -EINVAL for a JWK that is not such a key, or -ENOMEM.
 */
int ecmr_key_load(const json_t *jwk, struct ecmr_key **out);

/* Wipes and frees; accepts NULL. */
void ecmr_key_free(struct ecmr_key *key);

/*
 * Multiplies the public EC point in req (a JWK on the key's curve) by the
 * key. Writes the resulting JWK, Tang's reply body byte for byte (compact,
 * sorted keys), into reply (NUL-terminated) and its length into len.
 * Returns 0; -EINVAL when req is not a point of the key's curve (wrong
 * curve, bad coordinates, not on the curve); -ENOMEM.
 */
int ecmr_exchange(const struct ecmr_key *key, const json_t *req,
                  char reply[ECMR_REPLY_MAX], size_t *len);

/*
 * Checks that the x and y of jwk are a point of key's curve: a key file's
 * public half. Returns 0, -EINVAL, or -ENOMEM.
 */
int ecmr_key_check_point(const struct ecmr_key *key, const json_t *jwk);

/*
 * Checks that jwk is a public EC point on the curve crv: the client's
 * check of a server's reply before it takes part in recovering a key.
 * Returns 0, -EINVAL, or -ENOMEM.
 */
int ecmr_point_check(const json_t *jwk, const char *crv);

#endif
