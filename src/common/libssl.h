/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_COMMON_LIBSSL_H
#define TETHER_COMMON_LIBSSL_H

#include <openssl/ssl.h>

/*
 * The libssl functions the HTTPS client calls. Nothing links libssl:
 * it is loaded the first time a URL is https, so that a decrypt over
 * http, or any command that talks to no server, does not pay for its
 * relocations (0.3 ms of a 5 ms decrypt). Members are named after their
 * functions; SSL_ctrl and SSL_CTX_ctrl stand for OpenSSL's macros.
 */
#define LIBSSL_FUNCTIONS(X) \
	X(TLS_client_method) \
	X(SSL_CTX_new) \
	X(SSL_CTX_free) \
	X(SSL_CTX_ctrl) \
	X(SSL_CTX_set_verify) \
	X(SSL_CTX_set_default_verify_paths) \
	X(SSL_CTX_get_cert_store) \
	X(SSL_new) \
	X(SSL_free) \
	X(SSL_ctrl) \
	X(SSL_set_fd) \
	X(SSL_get0_param) \
	X(SSL_set1_host) \
	X(SSL_connect) \
	X(SSL_read_ex) \
	X(SSL_write_ex) \
	X(SSL_get_error) \
	X(SSL_get_verify_result) \
	X(SSL_get0_peer_certificate)

struct libssl {
#define LIBSSL_MEMBER(fn) __typeof__(fn) *fn;
	LIBSSL_FUNCTIONS(LIBSSL_MEMBER)
#undef LIBSSL_MEMBER
};

/* Filled by libssl_load; read only after it returned 0. */
extern struct libssl libssl;

/* 0, or -ENOPKG when libssl cannot be loaded: libssl_error says why. */
int libssl_load(void);
const char *libssl_error(void);

#endif
