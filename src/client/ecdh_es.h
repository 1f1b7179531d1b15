/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_ECDH_ES_H
#define TETHER_ECDH_ES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct jwe_enc;

/*
 * Encrypts pt to the EC public key srv as clevis's tang pin does: a
 * compact JWE with ECDH-ES direct key agreement (RFC 7518 4.6), whose
 * protected header is hdr ("alg":"ECDH-ES", an "enc" jwe_enc_find()
 * knows) plus the "epk" this adds. Two point multiplications, where
 * libjose's path takes nine and four key checks. Returns 0, -EINVAL when srv is not a point
 * of a supported curve or enc is unknown, -ENOMEM. Free *jwe with free().
 */
int ecdh_es_encrypt(const json_t *hdr, const json_t *srv, const uint8_t *pt,
                    size_t len, char **jwe);

/*
 * The content key of an ECDH-ES JWE with header hdr, from the shared
 * point (an EC JWK whose x is Z: what tang recovery yields) by RFC 7518
 * 4.6.2's Concat KDF, with hdr's "apu" and "apv" if it has them. Writes
 * enc's key length of bytes to cek. Returns 0 or -EINVAL.
 */
int ecdh_es_key(const json_t *hdr, const json_t *point,
                const struct jwe_enc *enc, uint8_t *cek);

#endif
