/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "common/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/libssl.h"
#include "common/sha256.h"
#include "common/util.h"

int
tls_pin_valid(const char *s)
{
	size_t n = strlen(TLS_PIN_PREFIX);

	if (!s || strncmp(s, TLS_PIN_PREFIX, n) != 0 ||
	    strlen(s) != TLS_PIN_MAX || s[TLS_PIN_MAX - 1] != '=')
		return 0;
	for (const char *p = s + n; p < s + TLS_PIN_MAX - 1; p++)
		if (!(*p >= 'A' && *p <= 'Z') && !(*p >= 'a' && *p <= 'z') &&
		    !(*p >= '0' && *p <= '9') && *p != '+' && *p != '/')
			return 0;
	return 1;
}

static bool
ipv4_literal(const char *host)
{
	struct in_addr a;

	return inet_pton(AF_INET, host, &a) == 1;
}

static void
set_detail(char *detail, size_t len, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char reason[160] = "";

	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	snprintf(detail, len, "%s%s%s", what, e ? ": " : "", reason);
	ERR_clear_error();
}

/* A store holding only the binding's own CA certificates. */
static int
use_own_ca(SSL_CTX *ctx, const char *pem)
{
	X509_STORE *store = libssl.SSL_CTX_get_cert_store(ctx);
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x;
	int n = 0;

	if (!bio)
		return -ENOMEM;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, x) == 1)
			n++;
		X509_free(x);
	}
	BIO_free(bio);
	ERR_clear_error();
	return n > 0 ? 0 : -EINVAL;
}

static SSL_CTX *
client_ctx(const struct url *u, char *detail, size_t len)
{
	SSL_CTX *ctx = libssl.SSL_CTX_new(libssl.TLS_client_method());
	int ok;

	if (!ctx) {
		set_detail(detail, len, "cannot set up TLS");
		return NULL;
	}
	ok = libssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION,
	                         TLS1_2_VERSION, NULL) == 1;
	if (ok && u->pin[0]) {
		/* The pin is the whole trust: checked after the handshake. */
		libssl.SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	} else if (ok && u->ca_pem) {
		libssl.SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		ok = use_own_ca(ctx, u->ca_pem) == 0;
		if (!ok)
			snprintf(detail, len, "the binding's CA is not a PEM "
			         "certificate");
	} else if (ok) {
		libssl.SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		ok = libssl.SSL_CTX_set_default_verify_paths(ctx);
	}
	if (!ok) {
		if (!detail[0])
			set_detail(detail, len, "cannot set up TLS");
		libssl.SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

SSL *
tls_client_new(const struct url *u, int fd, char *detail, size_t len)
{
	SSL_CTX *ctx;
	SSL *ssl;
	int ok;

	detail[0] = '\0';
	if (libssl_load() < 0) {
		snprintf(detail, len, "%s", libssl_error());
		return NULL;
	}
	ctx = client_ctx(u, detail, len);
	if (!ctx)
		return NULL;
	ssl = libssl.SSL_new(ctx);
	libssl.SSL_CTX_free(ctx);	/* the session holds its own reference */
	if (!ssl) {
		set_detail(detail, len, "cannot set up TLS");
		return NULL;
	}
	ok = libssl.SSL_set_fd(ssl, fd);
	if (ok && !u->ipv6 && !ipv4_literal(u->host))
		ok = libssl.SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME,
		                     TLSEXT_NAMETYPE_host_name,
		                     (void *)u->host) == 1;
	/* The certificate must name the host (or the address) dialled. */
	if (ok && !u->pin[0])
		ok = ipv4_literal(u->host) || u->ipv6 ?
		     X509_VERIFY_PARAM_set1_ip_asc(libssl.SSL_get0_param(ssl), u->host) :
		     libssl.SSL_set1_host(ssl, u->host);
	if (!ok) {
		set_detail(detail, len, "cannot set up TLS");
		libssl.SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

static int
spki_pin(X509 *cert, char out[TLS_PIN_MAX + 1])
{
	unsigned char *der = NULL, md[SHA256_LEN];
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	int ok = n > 0 && sha256(der, (size_t)n, md) == 0;

	OPENSSL_free(der);
	if (!ok)
		return -EINVAL;
	memcpy(out, TLS_PIN_PREFIX, strlen(TLS_PIN_PREFIX));
	EVP_EncodeBlock((unsigned char *)out + strlen(TLS_PIN_PREFIX), md, 32);
	out[TLS_PIN_MAX] = '\0';
	return 0;
}

int
tls_client_check(SSL *ssl, const struct url *u, char *detail, size_t len)
{
	char pin[TLS_PIN_MAX + 1];
	X509 *cert = libssl.SSL_get0_peer_certificate(ssl);
	long v;

	if (!cert) {
		snprintf(detail, len, "the server sent no certificate");
		return -EKEYREJECTED;
	}
	if (u->pin[0]) {
		if (spki_pin(cert, pin) < 0 ||
		    !equal_const_time(pin, u->pin, TLS_PIN_MAX)) {
			snprintf(detail, len, "the server's key does not match "
			         "the pinned %s", u->pin);
			return -EKEYREJECTED;
		}
		return 0;
	}
	v = libssl.SSL_get_verify_result(ssl);
	if (v != X509_V_OK) {
		snprintf(detail, len, "certificate not trusted: %s",
		         X509_verify_cert_error_string(v));
		return -EKEYREJECTED;
	}
	return 0;
}

/* NULL (plain http) never loaded libssl. */
void
tls_client_free(SSL *ssl)
{
	if (ssl)
		libssl.SSL_free(ssl);
}
