/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "client/aesni_gcm.h"

static size_t
unhex(const char *hex, uint8_t *out, size_t max)
{
	size_t n = strlen(hex) / 2;
	unsigned int b;

	assert_true(n <= max);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
		out[i] = (uint8_t)b;
	}
	return n;
}

/*
 * Test cases 1-4 and 13-16 of McGrew and Viega's "The Galois/Counter
 * Mode of Operation", the vectors NIST's own GCM tests start from.
 */
static const struct {
	const char *key, *iv, *pt, *aad, *ct, *tag;
} vectors[] = {
	{ "00000000000000000000000000000000", "000000000000000000000000",
	  "", "", "", "58e2fccefa7e3061367f1d57a4e7455a" },
	{ "00000000000000000000000000000000", "000000000000000000000000",
	  "00000000000000000000000000000000", "",
	  "0388dace60b6a392f328c2b971b2fe78",
	  "ab6e47d42cec13bdf53a67b21257bddf" },
	{ "feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
	  "",
	  "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
	  "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
	  "4d5c2af327cd64a62cf35abd2ba6fab4" },
	{ "feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	  "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	  "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
	  "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
	  "5bc94fbc3221a5db94fae95ae7121a47" },
	{ "0000000000000000000000000000000000000000000000000000000000000000",
	  "000000000000000000000000", "", "", "",
	  "530f8afbc74536b9a963b4f1c4cb738b" },
	{ "0000000000000000000000000000000000000000000000000000000000000000",
	  "000000000000000000000000", "00000000000000000000000000000000", "",
	  "cea7403d4d606b6e074ec5d3baf39d18",
	  "d0d1c8a799996bf0265b98b5d48ab919" },
	{ "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	  "cafebabefacedbaddecaf888",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
	  "",
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
	  "b094dac5d93471bdec1a502270e3cc6c" },
	{ "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	  "cafebabefacedbaddecaf888",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	  "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	  "76fc6ece0f4e1768cddf8853bb2d551b" },
};

static void
test_vectors(void **state)
{
	(void)state;
	if (!aesni_gcm_available())
		skip();
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		uint8_t key[32], iv[12], pt[64], aad[20], ct[64], tag[16];
		uint8_t out[64], got[16];
		size_t kl = unhex(vectors[i].key, key, sizeof(key));
		size_t ptl = unhex(vectors[i].pt, pt, sizeof(pt));
		size_t al = unhex(vectors[i].aad, aad, sizeof(aad));

		unhex(vectors[i].iv, iv, sizeof(iv));
		unhex(vectors[i].ct, ct, sizeof(ct));
		unhex(vectors[i].tag, tag, sizeof(tag));
		assert_int_equal(aesni_gcm(true, key, kl, iv, aad, al, pt, ptl,
		                           out, got), 0);
		assert_memory_equal(out, ct, ptl);
		assert_memory_equal(got, tag, 16);
		memset(out, 0xaa, sizeof(out));
		assert_int_equal(aesni_gcm(false, key, kl, iv, aad, al, ct, ptl,
		                           out, tag), 0);
		assert_memory_equal(out, pt, ptl);
	}
}

/* EVP's AES-GCM, the reference: returns the tag in tag. */
static void
evp_encrypt(const uint8_t *key, size_t kl, const uint8_t *iv,
            const uint8_t *aad, size_t al, const uint8_t *pt, size_t n,
            uint8_t *ct, uint8_t *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int a;

	assert_non_null(c);
	assert_int_equal(EVP_EncryptInit_ex(c, kl == 16 ? EVP_aes_128_gcm() :
	                                    EVP_aes_256_gcm(), NULL, key, iv), 1);
	assert_int_equal(EVP_EncryptUpdate(c, NULL, &a, aad, (int)al), 1);
	assert_int_equal(EVP_EncryptUpdate(c, ct, &a, pt, (int)n), 1);
	assert_int_equal(EVP_EncryptFinal_ex(c, ct + a, &a), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
	EVP_CIPHER_CTX_free(c);
}

/* Random keys, IVs, headers and lengths: the same bytes as EVP, both ways. */
static void
test_same_as_evp(void **state)
{
	(void)state;
	if (!aesni_gcm_available())
		skip();
	for (int i = 0; i < 400; i++) {
		uint8_t key[32], iv[12], aad[300], pt[300], a[300], b[300];
		uint8_t ta[16], tb[16];
		size_t kl = i % 2 ? 32 : 16, n = (size_t)i % 97 * 3, al = (size_t)i % 5 * 61;

		assert_int_equal(RAND_bytes(key, sizeof(key)), 1);
		assert_int_equal(RAND_bytes(iv, sizeof(iv)), 1);
		assert_int_equal(RAND_bytes(aad, sizeof(aad)), 1);
		assert_int_equal(RAND_bytes(pt, sizeof(pt)), 1);
		evp_encrypt(key, kl, iv, aad, al, pt, n, a, ta);
		assert_int_equal(aesni_gcm(true, key, kl, iv, aad, al, pt, n, b, tb), 0);
		assert_memory_equal(a, b, n);
		assert_memory_equal(ta, tb, 16);
		memset(b, 0, sizeof(b));
		assert_int_equal(aesni_gcm(false, key, kl, iv, aad, al, a, n, b, ta), 0);
		assert_memory_equal(b, pt, n);
	}
}

/*
 * A tag that does not hold, under any change of key, IV, header,
 * ciphertext or tag: refused, and nothing of the plaintext is left.
 */
static void
test_tampered(void **state)
{
	uint8_t key[32], iv[12], aad[16], pt[48], ct[48], tag[16], out[48];
	uint8_t zero[48] = { 0 };

	(void)state;
	if (!aesni_gcm_available())
		skip();
	assert_int_equal(RAND_bytes(key, sizeof(key)), 1);
	assert_int_equal(RAND_bytes(iv, sizeof(iv)), 1);
	assert_int_equal(RAND_bytes(aad, sizeof(aad)), 1);
	assert_int_equal(RAND_bytes(pt, sizeof(pt)), 1);
	assert_int_equal(aesni_gcm(true, key, 32, iv, aad, 16, pt, 48, ct, tag), 0);
	for (int what = 0; what < 5; what++) {
		uint8_t *p[] = { key, iv, aad, ct, tag };

		p[what][what] ^= 0x01;
		memset(out, 0x55, sizeof(out));
		assert_int_equal(aesni_gcm(false, key, 32, iv, aad, 16, ct, 48,
		                           out, tag), -EBADMSG);
		assert_memory_equal(out, zero, sizeof(out));
		p[what][what] ^= 0x01;
	}
	assert_int_equal(aesni_gcm(false, key, 32, iv, aad, 16, ct, 48, out,
	                           tag), 0);
	assert_memory_equal(out, pt, sizeof(pt));
}

/* Other key lengths are EVP's: the caller is told so, nothing is written. */
static void
test_other_lengths(void **state)
{
	uint8_t key[32] = { 0 }, iv[12] = { 0 }, tag[16] = { 0 }, out[16];

	(void)state;
	memset(out, 0x55, sizeof(out));
	for (size_t kl = 0; kl <= 32; kl += 8) {
		if (kl == 16 || kl == 32)
			continue;
		assert_int_equal(aesni_gcm(true, key, kl, iv, NULL, 0, key, 16,
		                           out, tag), -ENOTSUP);
	}
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 0x55);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_same_as_evp),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_other_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
