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
 * clevis writes it) into the flattened form (RFC 7516 7.2.2) *jwe and its decoded
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
 * A content encryption of RFC 7518 5.1: A128GCM, A192GCM, A256GCM,
 * A128CBC-HS256, A192CBC-HS384, A256CBC-HS512, everything libjose reads.
 */
struct jwe_enc;

/* The content encryption called name, or NULL. */
const struct jwe_enc *jwe_enc_find(const char *name);

/* Its key length in bytes (at most 64) and its name. */
size_t jwe_enc_key_len(const struct jwe_enc *enc);
const char *jwe_enc_name(const struct jwe_enc *enc);

/*
 * Encrypts pt with the content key cek (cek_len bytes, the length of the
 * "enc" hdr names) under the protected header hdr, taken as is (keys
 * sorted, compact, as libjose writes it), with a fresh IV from
 * getrandom(2). Returns 0 and a compact JWE with an empty encrypted key
 * in *out, -EINVAL (an unknown enc, a wrong key length, a "zip"),
 * -ENOMEM, -EIO. Free *out with free().
 */
int jwe_seal(const json_t *hdr, const uint8_t *cek, size_t cek_len,
             const uint8_t *pt, size_t len, char **out);

/*
 * Encrypts pt under the protected header hdr with the oct JWK jwk as the
 * content key ("alg":"dir", as clevis's null and sss pins): hdr's "enc",
 * or else jwk's "alg", names the content encryption. Returns 0 and a
 * compact JWE in *out, or -EINVAL.
 */
int jwe_encrypt(const json_t *hdr, const json_t *jwk, const uint8_t *pt,
                size_t len, char **out);

/*
 * Decrypts with jwk: the content key itself (an oct JWK) for "alg":"dir",
 * the shared point (an EC JWK: its x is Z) for "ECDH-ES". The plaintext
 * is returned only when the whole JWE verified (the GCM or HMAC tag), so
 * a tampered one never yields a byte of it.
 * A compressed one ("zip":"DEF": clevis never writes it, but jose reads
 * it) is inflated to at most JWE_PLAINTEXT_MAX bytes. Returns 0, -EFBIG
 * past that, -ENOPKG (said on stderr) without zlib, -ENOMEM or -EBADMSG.
 * Free *pt with free_secret(*pt, *len).
 */
int jwe_decrypt(const json_t *jwe, const json_t *jwk, uint8_t **pt,
                size_t *len);

#endif
