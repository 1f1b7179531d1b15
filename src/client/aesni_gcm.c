/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Why this exists: OpenSSL 3's EVP ciphers come from a provider, and the
 * first fetch in a process activates it and builds its table of every
 * cipher: about 3.5 million instructions, as much as one P-521 point
 * multiplication, for a command that decrypts one 64-byte secret.
 * OpenSSL's own low-level AES_encrypt avoids that but is table-driven,
 * so its timing depends on the key. Here the block cipher is the CPU's
 * AES instructions (constant time by construction) and GCM itself is
 * OpenSSL's CRYPTO_gcm128, whose GHASH uses the carry-less multiply.
 * Without both instructions, or for another key length, the caller
 * falls back to EVP.
 */
#include "client/aesni_gcm.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/modes.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AESNI 1
#include <immintrin.h>
#endif

#ifdef HAVE_AESNI

/* Round keys of AES-128 (10 rounds) or AES-256 (14 rounds). */
struct aes_key {
	__m128i rk[15];
	int rounds;
};

#define AESNI __attribute__((target("aes,sse2")))

/* The running XOR of k's words, as every key expansion step needs. */
static AESNI __m128i
shift_xor(__m128i k)
{
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
	return _mm_xor_si128(k, _mm_slli_si128(k, 4));
}

/* A step taking the RotWord(SubWord) word of keygenassist's output. */
static AESNI __m128i
next_rot(__m128i prev, __m128i assist)
{
	return _mm_xor_si128(shift_xor(prev), _mm_shuffle_epi32(assist, 0xff));
}

/* AES-256's odd steps: SubWord alone, no rotation, no round constant. */
static AESNI __m128i
next_sub(__m128i prev, __m128i assist)
{
	return _mm_xor_si128(shift_xor(prev), _mm_shuffle_epi32(assist, 0xaa));
}

/* keygenassist takes its round constant as an immediate. */
#define R128(i, rcon) \
	(k->rk[i] = next_rot(k->rk[(i) - 1], \
	                     _mm_aeskeygenassist_si128(k->rk[(i) - 1], rcon)))

static AESNI void
expand_128(struct aes_key *k, const uint8_t *key)
{
	k->rk[0] = _mm_loadu_si128((const __m128i *)key);
	R128(1, 0x01); R128(2, 0x02); R128(3, 0x04); R128(4, 0x08);
	R128(5, 0x10); R128(6, 0x20); R128(7, 0x40); R128(8, 0x80);
	R128(9, 0x1b); R128(10, 0x36);
	k->rounds = 10;
}

#define R256(i, rcon) do { \
	k->rk[i] = next_rot(k->rk[(i) - 2], \
	                    _mm_aeskeygenassist_si128(k->rk[(i) - 1], rcon)); \
	if ((i) < 14) \
		k->rk[(i) + 1] = next_sub(k->rk[(i) - 1], \
		                          _mm_aeskeygenassist_si128(k->rk[i], 0)); \
} while (0)

static AESNI void
expand_256(struct aes_key *k, const uint8_t *key)
{
	k->rk[0] = _mm_loadu_si128((const __m128i *)key);
	k->rk[1] = _mm_loadu_si128((const __m128i *)(key + 16));
	R256(2, 0x01); R256(4, 0x02); R256(6, 0x04); R256(8, 0x08);
	R256(10, 0x10); R256(12, 0x20); R256(14, 0x40);
	k->rounds = 14;
}

/* GCM's block function (block128_f): one AES encryption. */
static AESNI void
encrypt_block(const unsigned char in[16], unsigned char out[16],
              const void *key)
{
	const struct aes_key *k = key;
	__m128i b = _mm_xor_si128(_mm_loadu_si128((const __m128i *)in),
	                          k->rk[0]);

	for (int i = 1; i < k->rounds; i++)
		b = _mm_aesenc_si128(b, k->rk[i]);
	b = _mm_aesenclast_si128(b, k->rk[k->rounds]);
	_mm_storeu_si128((__m128i *)out, b);
}

bool
aesni_gcm_available(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul");
}

/* The GCM passes themselves, under an expanded key. */
static int
gcm_pass(bool encrypt, struct aes_key *k, const uint8_t *iv,
         const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t n,
         uint8_t *out, uint8_t *tag)
{
	GCM128_CONTEXT *gcm = CRYPTO_gcm128_new(k, encrypt_block);
	int r = -EBADMSG;

	if (!gcm)
		return -ENOMEM;
	CRYPTO_gcm128_setiv(gcm, iv, AESNI_GCM_IV_LEN);
	if (CRYPTO_gcm128_aad(gcm, aad, aadlen) != 0)
		goto out;
	if (encrypt) {
		if (CRYPTO_gcm128_encrypt(gcm, in, out, n) != 0)
			goto out;
		CRYPTO_gcm128_tag(gcm, tag, AESNI_GCM_TAG_LEN);
		r = 0;
	} else if (CRYPTO_gcm128_decrypt(gcm, in, out, n) == 0 &&
	           CRYPTO_gcm128_finish(gcm, tag, AESNI_GCM_TAG_LEN) == 0) {
		r = 0;
	}
out:
	/* Frees the context with its hash key and counter wiped. */
	CRYPTO_gcm128_release(gcm);
	return r;
}

int
aesni_gcm(bool encrypt, const uint8_t *key, size_t keylen,
          const uint8_t iv[AESNI_GCM_IV_LEN], const uint8_t *aad,
          size_t aadlen, const uint8_t *in, size_t n, uint8_t *out,
          uint8_t tag[AESNI_GCM_TAG_LEN])
{
	struct aes_key k;
	int r;

	if ((keylen != 16 && keylen != 32) || !aesni_gcm_available())
		return -ENOTSUP;
	if (keylen == 16)
		expand_128(&k, key);
	else
		expand_256(&k, key);
	r = gcm_pass(encrypt, &k, iv, aad, aadlen, in, n, out, tag);
	OPENSSL_cleanse(&k, sizeof(k));
	if (r < 0 && n > 0)
		OPENSSL_cleanse(out, n);
	return r;
}

#else /* !HAVE_AESNI */

bool
aesni_gcm_available(void)
{
	return false;
}

int
aesni_gcm(bool encrypt, const uint8_t *key, size_t keylen,
          const uint8_t iv[AESNI_GCM_IV_LEN], const uint8_t *aad,
          size_t aadlen, const uint8_t *in, size_t n, uint8_t *out,
          uint8_t tag[AESNI_GCM_TAG_LEN])
{
	(void)encrypt, (void)key, (void)keylen, (void)iv, (void)aad;
	(void)aadlen, (void)in, (void)n, (void)out, (void)tag;
	return -ENOTSUP;
}

#endif
