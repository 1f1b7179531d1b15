/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_JWK_H
#define TETHER_JWK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The thumbprint hashes Tang accepts in a kid, weakest first. */
enum jwk_thp_hash {
	JWK_THP_S1,
	JWK_THP_S224,
	JWK_THP_S256,
	JWK_THP_S384,
	JWK_THP_S512,
	JWK_THP_COUNT,
};

/* Tang names key files, and clevis shows keys, by this hash. */
#define JWK_THP_DEFAULT JWK_THP_S256

/* base64url of a 64-byte SHA-512 digest is 86 characters. */
#define JWK_THP_MAX 86

extern const char *const jwk_thp_names[JWK_THP_COUNT];

/*
 * Writes the RFC 7638 thumbprint of jwk under hash into out (NUL-terminated,
 * base64url without padding). Returns 0 or -EINVAL.
 */
int jwk_thumbprint(const json_t *jwk, enum jwk_thp_hash hash,
                   char out[JWK_THP_MAX + 1]);

/*
 * Generates a new private key for alg ("ES512" signs, "ECMR" exchanges), with
 * the key_ops Tang gives it. Returns NULL on failure.
 */
json_t *jwk_generate(const char *alg);

/*
 * True when the JWK may be used for op under its key_ops or use. A JWK with
 * neither allows every op unless required is set (Tang's two readings).
 */
bool jwk_allows(const json_t *jwk, const char *op, bool required);

/* Wipes the private members of jwk in place, then drops the reference. */
void jwk_free_secret(json_t *jwk);

/*
 * Wipes every string member, then drops the reference: for a JWK whose
 * public members are themselves a secret (a recovered ECMR point).
 */
void jwk_free_wiped(json_t *jwk);

#endif
