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

/* Wipes a private JWK with its last reference; others keep it whole. */
static void
drop_jwk(json_t *jwk)
{
	if (jwk && jwk->refcount == 1)
		jwk_free_secret(jwk);
	else
		json_decref(jwk);
}

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
	size_t n = 0, cap = 0;
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
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(names, cap * sizeof(*names));
			if (!grown) {
				r = -ENOMEM;
				break;
			}
			names = grown;
		}
		names[n] = strdup(d->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
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

/*
 * A private key others on the host can read may be known: it is still
 * served (skipping it would lock out every client bound to it), with a
 * warning naming it, and root takes the "other" bits off (group bits stay:
 * tangd-keygen makes 0440) of the file open at fd, unless it has other
 * names: those are not the directory's to change.
 */
static bool
check_exposure(int fd, const char *name, unsigned flags, const struct stat *st)
{
	mode_t mode;

	if (!(st->st_mode & S_IRWXO))
		return false;
	mode = st->st_mode & 07777;
	if ((flags & KEYSET_TIGHTEN) && st->st_nlink == 1 &&
	    fchmod(fd, mode & ~(mode_t)S_IRWXO) == 0) {
		if (!(flags & KEYSET_QUIET))
			log_warn("key file %s was readable by others (mode %03o): "
			         "made it %03o; its secret may be known: rotate "
			         "it (tetherd keys rotate)", name,
			         (unsigned)mode, (unsigned)(mode & ~(mode_t)S_IRWXO));
		return true;
	}
	if (!(flags & KEYSET_QUIET))
		log_warn("warning: key file %s is readable by others (mode %03o%s): "
		         "serving it, but its secret may be known: chmod o-rwx "
		         "it and rotate it (tetherd keys rotate)", name,
		         (unsigned)mode, st->st_nlink > 1 ?
		         ", and other names: left as it is" : "");
	return true;
}

/* Remembers a skipped file, so that a change to it is noticed. */
static void
note_skipped(struct keyset *ks, int dirfd, const char *name)
{
	struct keyset_skipped *sk;
	struct stat st;

	if (ks->nskipped == KEYSET_MAX_SKIPPED)
		return;
	sk = &ks->skipped[ks->nskipped++];
	snprintf(sk->name, sizeof(sk->name), "%s", name);
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		sk->missing = true;
		return;
	}
	sk->ino = st.st_ino;
	sk->size = st.st_size;
	sk->mtime = st.st_mtim;
	sk->ctime = st.st_ctim;
}

static void
skip_file(const char *name, unsigned flags, const char *why)
{
	if (!(flags & KEYSET_QUIET))
		log_warn("skipping key file %s: %s", name, why);
}

/*
 * Opens the regular file name of dirfd, and nothing else: a FIFO would
 * block the reader, a device could act on an open, and a symbolic link
 * leads out of the directory. Returns the fd, or -errno with *why set.
 */
static int
open_key_file(int dirfd, const char *name, struct stat *st, const char **why)
{
	int fd;

	*why = NULL;
	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISLNK(st->st_mode)) {
		*why = "a symbolic link: key files are not followed";
		return -ELOOP;
	}
	if (!S_ISREG(st->st_mode)) {
		*why = "not a regular file";
		return -EINVAL;
	}
	fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW |
	            O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* It may have been replaced since: check what was opened. */
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		*why = "not a regular file";
		return -EINVAL;
	}
	return fd;
}

static json_t *
load_jwk(int dirfd, const char *name, unsigned flags, bool *exposed,
         bool *unreadable)
{
	const char *why;
	struct stat st;
	json_t *jwk;
	size_t len;
	char *buf;
	int fd, r;

	*exposed = *unreadable = false;
	fd = open_key_file(dirfd, name, &st, &why);
	if (fd < 0) {
		/* A link is a key that is there, if not served: no new pair
		   is made over it. */
		*unreadable = fd == -EACCES || fd == -EPERM || fd == -EIO ||
		              fd == -ELOOP;
		skip_file(name, flags, why ? why : strerror(-fd));
		return NULL;
	}
	*exposed = check_exposure(fd, name, flags, &st);
	r = read_file_fd(fd, KEYSET_MAX_FILE, &buf, &len);
	close(fd);
	*unreadable = r == -EIO;
	if (r < 0) {
		skip_file(name, flags, r == -EFBIG ?
		          "larger than " KEYSET_MAX_FILE_TEXT : strerror(-r));
		return NULL;
	}
	jwk = json_loadb(buf, len, 0, NULL);
	free_secret(buf, len);
	if (!jwk || !json_is_object(jwk)) {
		skip_file(name, flags, "not a JSON object");
		json_decref(jwk);
		return NULL;
	}
	return jwk;
}

/* The signing algorithm Tang's keys use on each curve ecmr supports. */
static const struct {
	const char *crv, *alg;
} curve_algs[] = {
	{ "P-256", "ES256" }, { "P-384", "ES384" }, { "P-521", "ES512" },
};

/*
 * Checks that jwk is a key of a Tang keys directory: a private EC key on
 * a supported curve, for ECMR or its curve's ECDSA. A key libjose could
 * not sign or exchange with would fail every advertisement or recovery,
 * not only its own. Returns 0 with its scalar in *exchange, -EINVAL with
 * the reason in why, or -ENOMEM.
 */
static int
check_key(const json_t *jwk, struct ecmr_key **exchange, char *why,
          size_t len)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	const char *alg = json_string_value(json_object_get(jwk, "alg"));
	char text[24];
	size_t i;
	int r;

	*exchange = NULL;
	if (!kty) {
		snprintf(why, len, "no \"kty\": not a JWK");
		return -EINVAL;
	}
	if (strcmp(kty, "EC") != 0) {
		log_escape(text, sizeof(text), kty, strlen(kty));
		snprintf(why, len, "kty \"%s\" is not EC", text);
		return -EINVAL;
	}
	for (i = 0; i < ARRAY_SIZE(curve_algs); i++)
		if (crv && strcmp(crv, curve_algs[i].crv) == 0)
			break;
	if (i == ARRAY_SIZE(curve_algs)) {
		snprintf(why, len, "not on P-256, P-384 or P-521");
		return -EINVAL;
	}
	if (json_object_get(jwk, "alg") && (!alg ||
	    (strcmp(alg, "ECMR") != 0 && strcmp(alg, curve_algs[i].alg) != 0))) {
		snprintf(why, len, "alg is neither ECMR nor %s",
		         curve_algs[i].alg);
		return -EINVAL;
	}
	if (alg && strcmp(alg, "ECMR") == 0 && jwk_allows(jwk, "sign", false)) {
		snprintf(why, len, "alg ECMR, yet its key_ops sign");
		return -EINVAL;
	}
	r = ecmr_key_load(jwk, exchange);
	if (r == -EINVAL)
		snprintf(why, len, "no private key (\"d\") of %s", crv);
	if (r == 0)
		r = ecmr_key_check_point(*exchange, jwk);
	if (r < 0 && *exchange) {
		if (r == -EINVAL)
			snprintf(why, len, "x and y are not a point of %s", crv);
		ecmr_key_free(*exchange);
		*exchange = NULL;
	}
	return r;
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

/* Takes exchange, kept only for a key that may answer recoveries. */
static int
fill_key(struct key *key, const char *name, json_t *jwk,
         struct ecmr_key *exchange)
{
	int r;

	snprintf(key->name, sizeof(key->name), "%s", name);
	key->advertised = name[0] != '.';
	key->signs = jwk_allows(jwk, "sign", false) &&
	             jwk_allows(jwk, "verify", false);
	key->derives = may_derive(jwk);
	if (key->derives)
		key->exchange = exchange;
	else
		ecmr_key_free(exchange);
	for (int h = 0; h < JWK_THP_COUNT; h++) {
		r = jwk_thumbprint(jwk, (enum jwk_thp_hash)h, key->thp[h]);
		if (r < 0)
			return r;
	}
	/* Kept to sign GET /adv/{kid} if that is ever asked for. */
	if (jwk_allows(jwk, "sign", false))
		key->jwk = json_incref(jwk);
	return 0;
}

/* Public copies of the advertised keys Tang puts in an advertisement. */
static int
advertised_keys(struct keyset *ks, json_t *const *jwks)
{
	json_t *keys = json_array();

	ks->signers = json_array();
	ks->payload = json_pack("{s:o}", "keys", keys);
	if (!ks->payload || !ks->signers)
		return -ENOMEM;
	for (size_t i = 0; i < ks->nkeys; i++) {
		const struct key *k = &ks->keys[i];
		json_t *pub;

		if (!k->advertised)
			continue;
		if (k->signs && json_array_append(ks->signers, jwks[i]) < 0)
			return -ENOMEM;
		if (!k->signs && !jwk_allows(jwks[i], "deriveKey", false))
			continue;
		pub = json_deep_copy(jwks[i]);
		if (!pub || !jose_jwk_pub(NULL, pub) ||
		    json_array_append_new(keys, pub) < 0) {
			json_decref(pub);
			return -ENOMEM;
		}
	}
	return 0;
}

/* Signs payload with every key of signers, as Tang does. */
static int
sign_advertisement(struct keyset *ks, const json_t *signers, char **out,
                   size_t *len)
{
	json_t *tmpl = json_pack("{s:{s:s}}", "protected", "cty",
	                         "jwk-set+json");
	json_t *jws = NULL;
	char *text = NULL;
	int r = -ENOMEM;

	if (!tmpl)
		goto out;
	text = json_dumps(ks->payload, 0);
	if (!text)
		goto out;
	jws = json_pack("{s:o}", "payload", jose_b64_enc(text, strlen(text)));
	if (!jws)
		goto out;
	if (!jose_jws_sig(NULL, jws, tmpl, signers)) {
		r = -EINVAL;
		goto out;
	}
	__atomic_add_fetch(&ks->signatures, 1, __ATOMIC_RELAXED);
	*out = json_dumps(jws, 0);
	if (*out) {
		*len = strlen(*out);
		r = 0;
	}
out:
	free(text);
	json_decref(jws);
	json_decref(tmpl);
	return r;
}

/* The default advertisement; the per-kid ones wait until asked for. */
static int
sign_default(struct keyset *ks, json_t *const *jwks)
{
	int r = advertised_keys(ks, jwks);

	if (r < 0 || json_array_size(ks->signers) == 0)
		return r;
	return sign_advertisement(ks, ks->signers, &ks->adv, &ks->adv_len);
}

static bool
signs_alone(const json_t *jwk)
{
	json_t *jws = json_pack("{s:s}", "payload", "e30");
	bool ok = jws && jose_jws_sig(NULL, jws, NULL, jwk);

	json_decref(jws);
	return ok;
}

/*
 * After libjose refused to sign the advertisement: drops each advertised
 * key it cannot sign with alone (a check_key missed), naming it, so that
 * one such file does not leave the others unserved.
 */
static void
drop_failing_signers(struct keyset *ks, int dirfd, unsigned flags,
                     json_t **jwks)
{
	size_t kept = 0;

	json_decref(ks->signers);
	json_decref(ks->payload);
	ks->signers = ks->payload = NULL;
	for (size_t i = 0; i < ks->nkeys; i++) {
		struct key *k = &ks->keys[i];

		if (k->advertised && k->signs && !signs_alone(jwks[i])) {
			skip_file(k->name, flags, "libjose cannot sign with it");
			note_skipped(ks, dirfd, k->name);
			ks->nadvertised--;
			ks->nexposed -= k->exposed;
			ecmr_key_free(k->exchange);
			drop_jwk(k->jwk);
			drop_jwk(jwks[i]);
			jwks[i] = NULL;
			continue;
		}
		ks->keys[kept] = *k;
		jwks[kept++] = jwks[i];
	}
	for (size_t i = kept; i < ks->nkeys; i++) {
		memset(&ks->keys[i], 0, sizeof(ks->keys[i]));
		jwks[i] = NULL;
	}
	ks->nkeys = kept;
}

int
keyset_key_adv(struct keyset *ks, const struct key *key,
               const struct keyset_text **out)
{
	struct keyset_text *t, *cached = __atomic_load_n(
		&((struct key *)key)->adv, __ATOMIC_ACQUIRE);
	json_t *with;
	size_t len;
	char *text;
	int r;

	if (cached) {
		*out = cached;
		return 0;
	}
	if (!key->jwk)
		return -ENOENT;
	if (!ks->adv)
		return -ENOKEY;
	with = json_copy(ks->signers);
	if (!with || json_array_append(with, key->jwk) < 0) {
		json_decref(with);
		return -ENOMEM;
	}
	r = sign_advertisement(ks, with, &text, &len);
	json_decref(with);
	if (r < 0)
		return r;
	t = malloc(sizeof(*t) + len + 1);
	if (!t) {
		free(text);
		return -ENOMEM;
	}
	t->len = len;
	memcpy(t->text, text, len + 1);
	free(text);
	/* Two threads may sign at once: the first to store wins. */
	if (!__atomic_compare_exchange_n(&((struct key *)key)->adv, &cached, t,
	                                 false, __ATOMIC_ACQ_REL,
	                                 __ATOMIC_ACQUIRE)) {
		free(t);
		t = cached;
	}
	*out = t;
	return 0;
}

static int
load_keys(struct keyset *ks, int dirfd, unsigned flags, char **names,
          size_t n, json_t **jwks)
{
	for (size_t i = 0; i < n; i++) {
		struct key *k = &ks->keys[ks->nkeys];
		bool exposed, unreadable = false;
		struct ecmr_key *exchange;
		char why[80] = "not a JWK";
		int r;

		jwks[ks->nkeys] = load_jwk(dirfd, names[i], flags, &exposed,
		                           &unreadable);
		if (!jwks[ks->nkeys]) {
			ks->nunreadable += unreadable && names[i][0] != '.';
			note_skipped(ks, dirfd, names[i]);
			continue;
		}
		r = check_key(jwks[ks->nkeys], &exchange, why, sizeof(why));
		if (r == 0)
			r = fill_key(k, names[i], jwks[ks->nkeys], exchange);
		if (r < 0) {
			ecmr_key_free(k->exchange);
			json_decref(k->jwk);
			memset(k, 0, sizeof(*k));
			jwk_free_secret(jwks[ks->nkeys]);
			jwks[ks->nkeys] = NULL;
			if (r == -ENOMEM)
				return r;
			skip_file(names[i], flags, why);
			note_skipped(ks, dirfd, names[i]);
			continue;
		}
		k->exposed = exposed;
		ks->nexposed += exposed;
		ks->nadvertised += k->advertised;
		ks->nkeys++;
	}
	return 0;
}

int
keyset_load(int dirfd, unsigned flags, struct keyset **out)
{
	struct keyset *ks;
	json_t **jwks = NULL;
	char **names = NULL;
	size_t n = 0;
	int r;

	r = key_file_names(dirfd, &names, &n);
	if (r == -E2BIG && !(flags & KEYSET_QUIET))
		log_err("more than %d key files: none is read",
		        KEYSET_MAX_KEYS);
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
	r = load_keys(ks, dirfd, flags, names, n, jwks);
	if (r == 0)
		r = sign_default(ks, jwks);
	if (r == -EINVAL) {
		drop_failing_signers(ks, dirfd, flags, jwks);
		r = sign_default(ks, jwks);
	}
out:
	for (size_t i = 0; jwks && i < n; i++)
		drop_jwk(jwks[i]);
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
	/* The signers are the keys' own JWKs: dropped first, so that the
	   keys' last references wipe them. */
	json_decref(ks->signers);
	for (size_t i = 0; ks->keys && i < ks->nkeys; i++) {
		ecmr_key_free(ks->keys[i].exchange);
		drop_jwk(ks->keys[i].jwk);
		free(ks->keys[i].adv);
	}
	free(ks->keys);
	free(ks->adv);
	json_decref(ks->payload);
	free(ks);
}

struct keyset *
keyset_empty(void)
{
	struct keyset *ks = calloc(1, sizeof(*ks));

	if (ks)
		ks->refs = 1;
	return ks;
}
