/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_JWE_H
#define TETHER_JWE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Bindings are a few KiB; nested sss stays far below this. */
#define JWE_MAX (1024 * 1024)
/* The most tether encrypts, and inflates a compressed JWE to. */
#define JWE_PLAINTEXT_MAX (512 * 1024)

/*
 * Splits a compact JWE (five base64url parts, the encrypted key empty as
 * clevis writes it) into libjose's flattened form *jwe and its decoded
 * protected header *hdr. Trailing whitespace is ignored. Returns 0 or
 * -EBADMSG.
 */
int jwe_parse_compact(const char *text, size_t len, json_t **jwe,
                      json_t **hdr);

/* Writes the compact form of a flattened JWE with no unprotected parts. */
int jwe_format_compact(const json_t *jwe, char **out);

/* The clevis pin named in a protected header, or NULL. */
const char *jwe_pin(const json_t *hdr);

/*
 * Encrypts pt under the protected header hdr (taken as is) for the key
 * jwk (the recipient for ECDH-ES, the CEK for "dir"). Returns 0 and a
 * compact JWE in *out, or -EINVAL.
 */
int jwe_encrypt(const json_t *hdr, const json_t *jwk, const uint8_t *pt,
                size_t len, char **out);

/*
 * Decrypts with jwk. The plaintext is returned only when the whole JWE
 * verified (the GCM tag), so a tampered one never yields a byte of it.
 * A compressed one ("zip":"DEF": clevis never writes it, but jose reads
 * it) is inflated to at most JWE_PLAINTEXT_MAX bytes. Returns 0, -EFBIG
 * past that, -ENOMEM or -EBADMSG. Free *pt with free_secret(*pt, *len).
 */
int jwe_decrypt(const json_t *jwe, const json_t *jwk, uint8_t **pt,
                size_t *len);

#endif
