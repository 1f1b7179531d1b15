/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_ECDH_ES_H
#define TETHER_ECDH_ES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Encrypts pt to the EC public key srv as clevis's tang pin does: a
 * compact JWE with ECDH-ES direct key agreement (RFC 7518 4.6) and
 * A256GCM, whose protected header is hdr (its "enc" must be "A256GCM")
 * plus the "epk" this adds. Two point multiplications, where libjose's
 * path takes nine and four key checks. Returns 0, -EINVAL when srv is
 * not a point of a supported curve, -ENOMEM. Free *jwe with free().
 */
int ecdh_es_encrypt(const json_t *hdr, const json_t *srv, const uint8_t *pt,
                    size_t len, char **jwe);

#endif
