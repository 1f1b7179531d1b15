/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHERD_TLS_IDENTITY_H
#define TETHERD_TLS_IDENTITY_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

/* A certificate chain longer than this is a mistake. */
#define TLS_CHAIN_MAX 16

/*
 * The certificate chain and private key the HTTPS listeners present,
 * parsed once. One is in force at a time; each handshake takes a
 * reference that its connection holds until it closes (GnuTLS keeps
 * pointers into it), so a reload installs another with no listener
 * restarted and frees the old one when its last connection is gone.
 */
struct tls_identity {
	int refs;
	gnutls_pcert_st chain[TLS_CHAIN_MAX];
	unsigned nchain;
	gnutls_privkey_t key;
};

/* Parses PEM text: the chain (leaf first) and the key, which must be
   the leaf's. 0 or -EINVAL, logged with the names given. */
int tls_identity_new(const char *cert_pem, const char *cert_name,
                     const char *key_pem, const char *key_name,
                     struct tls_identity **out);

struct tls_identity *tls_identity_ref(struct tls_identity *id);
void tls_identity_unref(struct tls_identity *id);

/* Puts id (the caller's reference) in force; NULL puts none. */
void tls_identity_install(struct tls_identity *id);

/* The identity in force, referenced, or NULL. */
struct tls_identity *tls_identity_get(void);

#endif
