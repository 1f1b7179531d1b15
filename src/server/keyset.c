/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/keyset.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jose/b64.h>
#include <jose/jwk.h>
#include <jose/jws.h>

#include "common/log.h"
#include "common/util.h"

static bool
is_key_file(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && n < sizeof(((struct key *)0)->name) &&
	       strcmp(name + n - 4, ".jwk") == 0;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Lists the key files of dirfd, sorted so advertisements are stable. */
static int
key_file_names(int dirfd, char ***out, size_t *count)
{
	char **names = NULL;
	struct dirent *d;
	size_t n = 0;
	DIR *dir;
	int fd, r = 0;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((errno = 0, d = readdir(dir))) {
		char **grown;

		if (!is_key_file(d->d_name))
			continue;
		if (n == KEYSET_MAX_KEYS) {
			r = -E2BIG;
			break;
		}
		grown = realloc(names, (n + 1) * sizeof(*names));
		if (!grown || !(grown[n] = strdup(d->d_name))) {
			names = grown ? grown : names;
			r = -ENOMEM;
			break;
		}
		names = grown;
		n++;
	}
	if (r == 0 && errno != 0)
		r = -errno;
	closedir(dir);
	if (r < 0) {
		free_names(names, n);
		return r;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), compare_names);
	*out = names;
	*count = n;
	return 0;
}

static json_t *
load_jwk(int dirfd, const char *name)
{
	json_error_t err;
	json_t *jwk;
	size_t len;
	char *buf;
	int r;

	struct stat st;

	/* A private key anyone on the host can read is no longer private. */
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (st.st_mode & (S_IROTH | S_IWOTH))) {
		log_msg("skipping key file %s: readable or writable by others "
		        "(mode %03o): chmod 600 it", name,
		        (unsigned)(st.st_mode & 0777));
		return NULL;
	}
	r = read_file_at(dirfd, name, KEYSET_MAX_FILE, &buf, &len);
	if (r < 0) {
		log_msg("skipping key file %s: %s", name, strerror(-r));
		return NULL;
	}
	jwk = json_loadb(buf, len, 0, &err);
	free_secret(buf, len);
	if (!jwk || !json_is_object(jwk)) {
		log_msg("skipping key file %s: not a JSON object", name);
		json_decref(jwk);
		return NULL;
	}
	return jwk;
}

/* Tang's server-side checks before an exchange: any failure is a 403. */
static bool
may_derive(const json_t *jwk)
{
	const char *alg = json_string_value(json_object_get(jwk, "alg"));

	return jwk_allows(jwk, "deriveKey", true) &&
	       json_is_string(json_object_get(jwk, "d")) &&
	       (!alg || strcmp(alg, "ECMR") == 0);
}

static int
fill_key(struct key *key, const char *name, const json_t *jwk)
{
	int r;

	snprintf(key->name, sizeof(key->name), "%s", name);
	key->advertised = name[0] != '.';
	key->signs = jwk_allows(jwk, "sign", false) &&
	             jwk_allows(jwk, "verify", false);
	key->derives = may_derive(jwk);
	for (int h = 0; h < JWK_THP_COUNT; h++) {
		r = jwk_thumbprint(jwk, (enum jwk_thp_hash)h, key->thp[h]);
		if (r < 0)
			return r;
	}
	if (key->derives) {
		r = ecmr_key_load(jwk, &key->exchange);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			log_msg("key %s: not an exchange key this server "
			        "supports; recoveries with it will fail", name);
	}
	return 0;
}

/* Public copies of the advertised keys Tang puts in an advertisement. */
static int
advertised_keys(const struct keyset *ks, json_t *const *jwks,
                json_t **payload, json_t **signers)
{
	*payload = json_array();
	*signers = json_array();
	if (!*payload || !*signers)
		return -ENOMEM;
	for (size_t i = 0; i < ks->nkeys; i++) {
		const struct key *k = &ks->keys[i];
		json_t *pub;

		if (!k->advertised)
			continue;
		if (k->signs && json_array_append(*signers, jwks[i]) < 0)
			return -ENOMEM;
		if (!k->signs && !jwk_allows(jwks[i], "deriveKey", false))
			continue;
		pub = json_deep_copy(jwks[i]);
		if (!pub || !jose_jwk_pub(NULL, pub) ||
		    json_array_append_new(*payload, pub) < 0) {
			json_decref(pub);
			return -ENOMEM;
		}
	}
	if (ks->nadvertised == 0)
		return -ENOENT;
	return json_array_size(*signers) > 0 ? 0 : -ENOKEY;
}

/* Signs {"keys": payload} with every key of signers, as Tang does. */
static int
sign_advertisement(const json_t *payload, const json_t *signers, char **out,
                   size_t *len)
{
	json_t *body = json_pack("{s:O}", "keys", payload);
	json_t *tmpl = json_pack("{s:{s:s}}", "protected", "cty",
	                         "jwk-set+json");
	json_t *jws = NULL;
	char *text = NULL;
	int r = -ENOMEM;

	if (!body || !tmpl)
		goto out;
	text = json_dumps(body, 0);
	if (!text)
		goto out;
	jws = json_pack("{s:o}", "payload", jose_b64_enc(text, strlen(text)));
	if (!jws)
		goto out;
	if (!jose_jws_sig(NULL, jws, tmpl, signers)) {
		r = -EINVAL;
		goto out;
	}
	*out = json_dumps(jws, 0);
	if (*out) {
		*len = strlen(*out);
		r = 0;
	}
out:
	free(text);
	json_decref(jws);
	json_decref(tmpl);
	json_decref(body);
	return r;
}

static int
sign_all(struct keyset *ks, json_t *const *jwks)
{
	json_t *payload = NULL, *signers = NULL;
	int r;

	r = advertised_keys(ks, jwks, &payload, &signers);
	if (r == 0)
		r = sign_advertisement(payload, signers, &ks->adv, &ks->adv_len);
	/* GET /adv/{kid}: the set's signers plus the key asked for. */
	for (size_t i = 0; r == 0 && i < ks->nkeys; i++) {
		struct key *k = &ks->keys[i];
		json_t *with = NULL;

		if (!jwk_allows(jwks[i], "sign", false))
			continue;
		with = json_copy(signers);
		if (!with || json_array_append(with, jwks[i]) < 0)
			r = -ENOMEM;
		else
			r = sign_advertisement(payload, with, &k->adv,
			                       &k->adv_len);
		json_decref(with);
	}
	json_decref(payload);
	json_decref(signers);
	return r;
}

static int
load_keys(struct keyset *ks, int dirfd, char **names, size_t n,
          json_t **jwks)
{
	for (size_t i = 0; i < n; i++) {
		struct key *k = &ks->keys[ks->nkeys];
		int r;

		jwks[ks->nkeys] = load_jwk(dirfd, names[i]);
		if (!jwks[ks->nkeys])
			continue;
		r = fill_key(k, names[i], jwks[ks->nkeys]);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			log_msg("skipping key file %s: not a JWK", names[i]);
			ecmr_key_free(k->exchange);
			memset(k, 0, sizeof(*k));
			jwk_free_secret(jwks[ks->nkeys]);
			jwks[ks->nkeys] = NULL;
			continue;
		}
		ks->nadvertised += k->advertised;
		ks->nkeys++;
	}
	return 0;
}

int
keyset_load(int dirfd, struct keyset **out)
{
	struct keyset *ks;
	json_t **jwks = NULL;
	char **names = NULL;
	size_t n = 0;
	int r;

	r = key_file_names(dirfd, &names, &n);
	if (r < 0)
		return r;
	ks = calloc(1, sizeof(*ks));
	jwks = calloc(n ? n : 1, sizeof(*jwks));
	if (ks)
		ks->keys = calloc(n ? n : 1, sizeof(*ks->keys));
	if (!ks || !jwks || !ks->keys) {
		r = -ENOMEM;
		goto out;
	}
	ks->refs = 1;
	r = load_keys(ks, dirfd, names, n, jwks);
	if (r == 0)
		r = sign_all(ks, jwks);
out:
	for (size_t i = 0; jwks && i < n; i++)
		jwk_free_secret(jwks[i]);
	free(jwks);
	free_names(names, n);
	if (r < 0) {
		keyset_unref(ks);
		return r;
	}
	*out = ks;
	return 0;
}

const struct key *
keyset_find(const struct keyset *ks, const char *kid)
{
	for (size_t i = 0; i < ks->nkeys; i++)
		for (int h = 0; h < JWK_THP_COUNT; h++)
			if (strcmp(ks->keys[i].thp[h], kid) == 0)
				return &ks->keys[i];
	return NULL;
}

struct keyset *
keyset_ref(struct keyset *ks)
{
	__atomic_add_fetch(&ks->refs, 1, __ATOMIC_RELAXED);
	return ks;
}

void
keyset_unref(struct keyset *ks)
{
	if (!ks || __atomic_sub_fetch(&ks->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (size_t i = 0; ks->keys && i < ks->nkeys; i++) {
		ecmr_key_free(ks->keys[i].exchange);
		free(ks->keys[i].adv);
	}
	free(ks->keys);
	free(ks->adv);
	free(ks);
}

struct keyset *
keyset_slot_get(struct keyset_slot *slot)
{
	struct keyset *ks;

	pthread_mutex_lock(&slot->lock);
	ks = keyset_ref(slot->ks);
	pthread_mutex_unlock(&slot->lock);
	return ks;
}

void
keyset_slot_set(struct keyset_slot *slot, struct keyset *ks)
{
	struct keyset *old;

	pthread_mutex_lock(&slot->lock);
	old = slot->ks;
	slot->ks = ks;
	pthread_mutex_unlock(&slot->lock);
	keyset_unref(old);
}
