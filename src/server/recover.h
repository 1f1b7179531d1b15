/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_RECOVER_H
#define TETHERD_RECOVER_H

#include <stddef.h>

#include "common/ecmr.h"
#include "server/keyset.h"

/*
 * Answers POST /rec/{kid} with body (len bytes, untrusted, any content).
 * Returns the HTTP status Tang gives: 200 with the reply JWK in out and its
 * length in out_len; 400 for a body that is not an EC JWK for ECMR or not a
 * point of the key's curve; 403 when the request or the server key does
 * not allow deriveKey; 404 for an unknown kid; 500 when out of memory.
 */
unsigned recover(const struct keyset *ks, const char *kid, const char *body,
                 size_t len, char out[ECMR_REPLY_MAX], size_t *out_len);

#endif
