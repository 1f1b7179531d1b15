/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_ECMR_H
#define TETHER_ECMR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

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

/*
 * The client's half of recovery, two point multiplications in all: blind
 * the binding's epk C with a fresh E = eG, then unblind the server's
 * reply s(C + E) by subtracting eS. Every point that comes from outside
 * (C, the server's exchange key S, the reply) must lie on the curve:
 * multiplying a secret by a point off it can leak the secret (invalid
 * curve attacks). The curves here have cofactor 1, so being on the curve
 * is all a point needs; libjose's EC_KEY_check_key() also multiplies each
 * point by the group order, a second multiplication per key that proves
 * nothing more on them.
 */
struct ecmr_blinding;

/*
 * Checks C (epk) and S (srv), public JWKs on one curve, draws e and
 * returns in *xfr the JWK of C + eG to send to the server's /rec.
 * Returns 0, -EINVAL for a point that is not on the curve (or the wrong
 * curve), -ENOMEM. Free *b with ecmr_blinding_free() and *xfr with
 * json_decref().
 */
int ecmr_blind(const json_t *epk, const json_t *srv, struct ecmr_blinding **b,
               json_t **xfr);

/*
 * From the server's reply Y (a JWK), checked to lie on the curve, returns
 * in *key the JWK {kty, crv, x, y} of Y - eS, which is cS: the point the
 * binding's ECDH-ES key was derived from. Returns 0, -EINVAL (the reply is
 * not a point of the curve, or the result is the identity), -ENOMEM.
 * *key is a secret: free it with jwk_free_wiped().
 */
int ecmr_unblind(const struct ecmr_blinding *b, const json_t *reply,
                 json_t **key);

/* Wipes and frees; accepts NULL. */
void ecmr_blinding_free(struct ecmr_blinding *b);

/* P-521's shared secret, an x coordinate, is the longest: 66 bytes. */
#define ECMR_SECRET_MAX 66

/* The coordinate length of curve crv in bytes; 0 for other curves. */
size_t ecmr_field_len(const char *crv);

/*
 * ECDH with the server's exchange key S (a public JWK), as encryption to
 * it needs: checks S lies on its curve, draws e and returns the public
 * JWK of E = eG in *epk and the x coordinate of eS, the shared secret, in
 * z (*zlen bytes, the curve's field size). Two multiplications. Returns
 * 0, -EINVAL, -ENOMEM. Wipe z after use.
 */
int ecmr_agree(const json_t *srv, json_t **epk, uint8_t z[ECMR_SECRET_MAX],
               size_t *zlen);

/*
 * A new private EC JWK {kty, crv, x, y, d} on crv (P-256, P-384, P-521),
 * its scalar from getrandom(2). Returns 0, -EINVAL for another curve,
 * -EIO, -ENOMEM. Free *jwk with jwk_free_secret().
 */
int ecmr_generate(const char *crv, json_t **jwk);

/*
 * Checks sig, a JWS signature (R || S, RFC 7518 3.4) of alg ES256, ES384
 * or ES512, over msg under jwk, a public EC JWK on that alg's curve and
 * checked to lie on it. One ECDSA verification: libjose's path also runs
 * EC_KEY_check_key() on the key, twice, each a multiplication by the
 * group order that proves nothing more on these cofactor-1 curves.
 * Returns 0 for a valid signature, -EBADMSG for one that is not,
 * -EINVAL for a JWK that is not a point of alg's curve, -ENOTSUP for
 * other algs, -ENOMEM.
 */
int ecmr_verify(const json_t *jwk, const char *alg, const uint8_t *sig,
                size_t siglen, const void *msg, size_t len);

#endif
