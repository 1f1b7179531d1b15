/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/tls_identity.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tls_identity *current;

static gnutls_datum_t
datum(const char *text)
{
	return (gnutls_datum_t){ (unsigned char *)text,
	                         (unsigned int)strlen(text) };
}

/* Whether key is the private half of the leaf's public key. */
static bool
key_matches(const struct tls_identity *id)
{
	gnutls_datum_t a = { NULL, 0 }, b = { NULL, 0 };
	gnutls_pubkey_t pub = NULL;
	bool same = false;

	if (gnutls_pubkey_init(&pub) == 0 &&
	    gnutls_pubkey_import_privkey(pub, id->key, 0, 0) == 0 &&
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &a) == 0 &&
	    gnutls_pubkey_export2(id->chain[0].pubkey, GNUTLS_X509_FMT_DER,
	                          &b) == 0)
		same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
	gnutls_free(a.data);
	gnutls_free(b.data);
	if (pub)
		gnutls_pubkey_deinit(pub);
	return same;
}

int
tls_identity_new(const char *cert_pem, const char *cert_name,
                 const char *key_pem, const char *key_name,
                 struct tls_identity **out)
{
	struct tls_identity *id = calloc(1, sizeof(*id));
	gnutls_datum_t cert = datum(cert_pem), key = datum(key_pem);
	int r;

	*out = NULL;
	if (!id)
		return -ENOMEM;
	id->refs = 1;
	id->nchain = TLS_CHAIN_MAX;
	r = gnutls_pcert_list_import_x509_raw(id->chain, &id->nchain, &cert,
	                                      GNUTLS_X509_FMT_PEM, 0);
	if (r < 0) {
		log_err("--tls-cert %s: %s", cert_name, gnutls_strerror(r));
		free(id);
		return -EINVAL;
	}
	r = gnutls_privkey_init(&id->key);
	if (r == 0)
		r = gnutls_privkey_import_x509_raw(id->key, &key,
		                                   GNUTLS_X509_FMT_PEM, NULL, 0);
	if (r < 0) {
		log_err("--tls-key %s: %s", key_name, gnutls_strerror(r));
	} else if (!key_matches(id)) {
		log_err("--tls-key %s: not the key of the certificate in %s",
		        key_name, cert_name);
		r = -1;
	}
	if (r < 0) {
		tls_identity_unref(id);
		return -EINVAL;
	}
	*out = id;
	return 0;
}

struct tls_identity *
tls_identity_ref(struct tls_identity *id)
{
	if (id)
		__atomic_add_fetch(&id->refs, 1, __ATOMIC_RELAXED);
	return id;
}

void
tls_identity_unref(struct tls_identity *id)
{
	if (!id || __atomic_sub_fetch(&id->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (unsigned i = 0; i < id->nchain; i++)
		gnutls_pcert_deinit(&id->chain[i]);
	if (id->key)
		gnutls_privkey_deinit(id->key);
	free(id);
}

void
tls_identity_install(struct tls_identity *id)
{
	struct tls_identity *old;

	pthread_mutex_lock(&current_lock);
	old = current;
	current = id;
	pthread_mutex_unlock(&current_lock);
	tls_identity_unref(old);
}

struct tls_identity *
tls_identity_get(void)
{
	struct tls_identity *id;

	pthread_mutex_lock(&current_lock);
	id = tls_identity_ref(current);
	pthread_mutex_unlock(&current_lock);
	return id;
}
