/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_B64_H
#define TETHER_B64_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * base64url without padding (RFC 7515 2, RFC 4648 5), the encoding of
 * every JOSE member. Decoding takes what libjose 11 takes: the URL-safe
 * alphabet only, no padding, no whitespace, any length but 4k + 1, and
 * the bits past the last byte zero.
 */

/* The encoded length of n bytes, without the NUL. */
size_t b64_encoded_len(size_t n);

/* The decoded length of an encoding of n characters; SIZE_MAX when no
   encoding has that length (4k + 1). */
size_t b64_decoded_len(size_t n);

/*
 * Encodes n bytes of in into out, NUL-terminated; cap is out's size and
 * must hold b64_encoded_len(n) + 1. Returns the encoded length or
 * -ENOSPC.
 */
int b64_encode(const uint8_t *in, size_t n, char *out, size_t cap);

/*
 * Decodes the n characters of in into out, whose size cap must hold
 * b64_decoded_len(n). Returns 0 with *len set, -EBADMSG for a character
 * outside the alphabet, a length no encoding has or non-zero trailing
 * bits, -ENOSPC.
 */
int b64_decode(const char *in, size_t n, uint8_t *out, size_t cap,
               size_t *len);

/*
 * Decodes a JSON string of at most max decoded bytes into a new buffer,
 * *out, that the caller frees with free_secret(*out, *len). A zero-length
 * result is a valid one-byte allocation. Returns 0, -EBADMSG (not a
 * string, not base64url), -EFBIG (over max), -ENOMEM.
 */
int b64_decode_json(const json_t *s, size_t max, uint8_t **out, size_t *len);

/* The JSON string of the encoding of n bytes of in, or NULL. */
json_t *b64_encode_json(const uint8_t *in, size_t n);

/*
 * Decodes a JSON string holding base64url of at most max bytes and parses
 * them as a JSON object (a protected header, a JWS payload). NULL for
 * anything else.
 */
json_t *b64_decode_object(const json_t *s, size_t max);

/* As b64_decode_object, from n characters. */
json_t *b64_decode_objectn(const char *s, size_t n, size_t max);

#endif
