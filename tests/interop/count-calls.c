/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Preloaded into tether by client-work.sh: each call of the OpenSSL
 * functions below appends the function's name to $COUNT_CALLS_FILE, then
 * goes on to OpenSSL's own. A line per call, written at once, because
 * tether ends with _exit(2), running no destructor.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

static void
note(const char *name)
{
	const char *path = getenv("COUNT_CALLS_FILE");
	char line[64];
	int fd, n;

	if (!path)
		return;
	n = snprintf(line, sizeof(line), "%s\n", name);
	if (n < 0 || (size_t)n >= sizeof(line))
		abort();
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	/* One short append per call, whole: sss's share threads call at
	   once, and two writes per line would interleave. */
	if (write(fd, line, (size_t)n) != n)
		abort();
	close(fd);
}

static void *
next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (!f)
		abort();
	return f;
}

int
EC_POINT_mul(const EC_GROUP *g, EC_POINT *r, const BIGNUM *n,
             const EC_POINT *q, const BIGNUM *m, BN_CTX *ctx)
{
	int (*f)(const EC_GROUP *, EC_POINT *, const BIGNUM *,
	         const EC_POINT *, const BIGNUM *, BN_CTX *) = next(__func__);

	note(__func__);
	return f(g, r, n, q, m, ctx);
}

#define FETCH(type, fn) \
type *fn(OSSL_LIB_CTX *lib, const char *alg, const char *props) \
{ \
	type *(*f)(OSSL_LIB_CTX *, const char *, const char *) = next(#fn); \
	note(#fn); \
	return f(lib, alg, props); \
}

FETCH(EVP_MD, EVP_MD_fetch)
FETCH(EVP_CIPHER, EVP_CIPHER_fetch)
FETCH(EVP_MAC, EVP_MAC_fetch)
FETCH(EVP_KDF, EVP_KDF_fetch)

EVP_PKEY_CTX *
EVP_PKEY_CTX_new_from_name(OSSL_LIB_CTX *lib, const char *name,
                           const char *props)
{
	EVP_PKEY_CTX *(*f)(OSSL_LIB_CTX *, const char *, const char *) =
		next(__func__);

	note(__func__);
	return f(lib, name, props);
}

int
RAND_bytes(unsigned char *buf, int n)
{
	int (*f)(unsigned char *, int) = next(__func__);

	note(__func__);
	return f(buf, n);
}

int
RAND_priv_bytes(unsigned char *buf, int n)
{
	int (*f)(unsigned char *, int) = next(__func__);

	note(__func__);
	return f(buf, n);
}
