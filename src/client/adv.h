/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_ADV_H
#define TETHER_ADV_H

#include <jansson.h>
#include <stdbool.h>

#include "common/url.h"

/*
 * The key set ({"keys": [...]}) of an advertisement, returned only when
 * every signing key it lists signed it, as clevis requires. -EBADMSG
 * for a malformed advertisement, -EKEYREJECTED for a bad signature.
 */
int adv_keys(const json_t *jws, json_t **jwks);

/* The signing keys of a key set (a new array), possibly empty. */
json_t *adv_signing_keys(const json_t *jwks);

/* The first exchange key of a key set (borrowed), or NULL. */
const json_t *adv_exchange_key(const json_t *jwks);

/* Whether thp is a signing key's thumbprint in S256 or S1, as clevis. */
bool adv_signed_by(const json_t *jwks, const char *thp);

/* True for a string that may be a kid in a request path. */
bool adv_is_kid(const char *s);

/*
 * Fetches url/adv (or url/adv/thp) and verifies it. Logs failures.
 * Returns 0 with *jws (the advertisement) and *jwks (its key set).
 */
int adv_fetch(const struct url *u, const char *thp, json_t **jws,
              json_t **jwks);

/*
 * The chain of trust across a key rotation: fetches url/adv/{thp} for the
 * first of trusted (public signing keys a binding stored) and accepts the
 * advertisement only if one of them signed it, as Tang and tetherd do for
 * a rotated key they still hold. Logs failures; -EKEYREJECTED when none
 * of the trusted keys signed it.
 */
int adv_fetch_trusted(const struct url *u, const json_t *trusted,
                      json_t **jws, json_t **jwks);

/* tether adv URL */
int cmd_adv(int argc, char **argv);

#endif
