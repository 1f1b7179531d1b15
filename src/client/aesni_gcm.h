/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_CLIENT_AESNI_GCM_H
#define TETHER_CLIENT_AESNI_GCM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AESNI_GCM_IV_LEN 12
#define AESNI_GCM_TAG_LEN 16

/*
 * AES-GCM with a 16- or 32-byte key, a 12-byte IV and a 16-byte tag, on
 * the CPU's AES and carry-less multiplication instructions. Encrypting
 * writes n bytes to out and the tag; decrypting checks the tag (in
 * constant time) and leaves out zeroed unless it holds. Returns 0,
 * -EBADMSG (a tag that does not hold, or a failure inside OpenSSL), or
 * -ENOTSUP when this CPU or key length is not one it serves: then the
 * caller uses EVP.
 */
int aesni_gcm(bool encrypt, const uint8_t *key, size_t keylen,
              const uint8_t iv[AESNI_GCM_IV_LEN], const uint8_t *aad,
              size_t aadlen, const uint8_t *in, size_t n, uint8_t *out,
              uint8_t tag[AESNI_GCM_TAG_LEN]);

/* Whether aesni_gcm serves this CPU at all (for tests). */
bool aesni_gcm_available(void);

#endif
