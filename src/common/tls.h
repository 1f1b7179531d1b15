/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_TLS_H
#define TETHER_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "common/url.h"

/* curl's --pinnedpubkey form: "sha256//" and the base64 SHA-256 of the
   server's SubjectPublicKeyInfo (44 characters). */
#define TLS_PIN_PREFIX "sha256//"
#define TLS_PIN_MAX (sizeof(TLS_PIN_PREFIX) - 1 + 44)

/* Whether s is a pin in curl's sha256// form. */
int tls_pin_valid(const char *s);

/*
 * A client TLS session for u on the connected socket fd, TLS 1.2 or 1.3,
 * with the server name (SNI) set. What is trusted, in order: u->pin alone
 * (no CA needed, as in an initramfs), else u->ca_pem alone, else the
 * system's CA store; with a CA, the certificate must name u's host.
 * Returns the session or NULL, with why in detail.
 */
SSL *tls_client_new(const struct url *u, int fd, char *detail, size_t len);

/* After the handshake: 0 if the peer is trusted as tls_client_new set
   up, else -EKEYREJECTED with why in detail. */
int tls_client_check(SSL *ssl, const struct url *u, char *detail, size_t len);

/* Frees the session and its context; accepts NULL. */
void tls_client_free(SSL *ssl);

#endif
