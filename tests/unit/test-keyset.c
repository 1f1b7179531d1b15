/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jose/jose.h>

#include "common/jwk.h"
#include "common/util.h"
#include "server/keydir.h"
#include "server/keyset.h"

struct fixture {
	char path[64];
	int dirfd;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->path, sizeof(f->path), "/tmp/tether-keyset.XXXXXX");
	if (!mkdtemp(f->path))
		return -1;
	f->dirfd = open(f->path, O_RDONLY | O_DIRECTORY);
	*state = f;
	return f->dirfd < 0 ? -1 : 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->path);
	close(f->dirfd);
	free(f);
	return system(cmd) == 0 ? 0 : -1;
}

static void
put_file(int dirfd, const char *name, const char *text)
{
	assert_int_equal(write_file_at(dirfd, name, text, strlen(text), 0600), 0);
}

/* Writes a key under its S1 name, as Tang before version 10 did. */
static void
put_key(int dirfd, const char *alg, bool hidden, char thp[JWK_THP_MAX + 1])
{
	json_t *jwk = jwk_generate(alg);
	char name[JWK_THP_MAX + 8], *text;

	assert_non_null(jwk);
	assert_int_equal(jwk_thumbprint(jwk, JWK_THP_S1, thp), 0);
	snprintf(name, sizeof(name), "%s%s.jwk", hidden ? "." : "", thp);
	text = json_dumps(jwk, 0);
	put_file(dirfd, name, text);
	free(text);
	json_decref(jwk);
}

/* The keys an advertisement signs, checked to carry no private member. */
static json_t *
adv_payload_keys(const char *adv, size_t *nsigs)
{
	json_t *jws = json_loads(adv, 0, NULL), *payload, *keys, *k;
	size_t i;

	assert_non_null(jws);
	*nsigs = json_object_get(jws, "signatures") ?
	         json_array_size(json_object_get(jws, "signatures")) :
	         json_object_get(jws, "signature") ? 1 : 0;
	payload = jose_b64_dec_load(json_object_get(jws, "payload"));
	assert_non_null(payload);
	keys = json_incref(json_object_get(payload, "keys"));
	assert_true(json_is_array(keys));
	json_array_foreach(keys, i, k)
		assert_null(json_object_get(k, "d"));
	json_decref(payload);
	json_decref(jws);
	return keys;
}

static void
test_empty_directory(void **state)
{
	struct fixture *f = *state;
	struct keyset *ks = NULL;

	assert_int_equal(keyset_load(f->dirfd, 0, &ks), 0);
	assert_int_equal(ks->nkeys, 0);
	assert_int_equal(ks->nadvertised, 0);
	assert_null(ks->adv);
	keyset_unref(ks);
}

static void
test_tang_directory(void **state)
{
	struct fixture *f = *state;
	char sig[JWK_THP_MAX + 1], exc[JWK_THP_MAX + 1];
	char osig[JWK_THP_MAX + 1], oexc[JWK_THP_MAX + 1];
	const struct keyset_text *t, *again;
	const struct key *k;
	struct keyset *ks;
	size_t nsigs;
	json_t *keys;

	put_key(f->dirfd, "ES512", false, sig);
	put_key(f->dirfd, "ECMR", false, exc);
	put_key(f->dirfd, "ES512", true, osig);
	put_key(f->dirfd, "ECMR", true, oexc);
	put_file(f->dirfd, "invalid.jwk", "{not json");
	put_file(f->dirfd, "empty.jwk", "");
	put_file(f->dirfd, "another-bad-file", "{}");

	assert_int_equal(keyset_load(f->dirfd, 0, &ks), 0);
	assert_int_equal(ks->nkeys, 4);
	assert_int_equal(ks->nadvertised, 2);

	/* The default advertisement: one signer, flattened; no hidden keys. */
	keys = adv_payload_keys(ks->adv, &nsigs);
	assert_int_equal(nsigs, 1);
	assert_int_equal(json_array_size(keys), 2);
	json_decref(keys);

	/* Every key found by every hash of its thumbprint. */
	k = keyset_find(ks, sig);
	assert_non_null(k);
	assert_true(k->signs && k->advertised && !k->derives);
	for (int h = 0; h < JWK_THP_COUNT; h++)
		assert_ptr_equal(keyset_find(ks, k->thp[h]), k);
	k = keyset_find(ks, exc);
	assert_non_null(k);
	assert_true(k->derives && k->exchange && !k->signs && !k->jwk);
	assert_int_equal(keyset_key_adv(ks, k, &t), -ENOENT);

	/* A rotated exchange key still recovers; a rotated signer still signs
	   when asked for by its kid, next to the current signer. */
	k = keyset_find(ks, oexc);
	assert_non_null(k);
	assert_true(k->derives && !k->advertised);
	k = keyset_find(ks, osig);
	assert_non_null(k);
	/* Only the default advertisement is signed on loading; the one for
	   a kid when first asked for, once. */
	assert_int_equal(ks->signatures, 1);
	assert_null(k->adv);
	assert_int_equal(keyset_key_adv(ks, k, &t), 0);
	assert_int_equal(ks->signatures, 2);
	assert_int_equal(keyset_key_adv(ks, k, &again), 0);
	assert_ptr_equal(t, again);
	assert_int_equal(ks->signatures, 2);
	assert_int_equal(strlen(t->text), t->len);
	keys = adv_payload_keys(t->text, &nsigs);
	assert_int_equal(nsigs, 2);
	assert_int_equal(json_array_size(keys), 2);
	json_decref(keys);

	assert_null(keyset_find(ks, "nope"));
	assert_null(keyset_find(ks, ""));
	keyset_unref(ks);
}

static void
test_two_signers_general_jws(void **state)
{
	struct fixture *f = *state;
	char thp[JWK_THP_MAX + 1];
	struct keyset *ks;
	size_t nsigs;
	json_t *keys;

	put_key(f->dirfd, "ES512", false, thp);
	put_key(f->dirfd, "ES512", false, thp);
	put_key(f->dirfd, "ECMR", false, thp);
	assert_int_equal(keyset_load(f->dirfd, 0, &ks), 0);
	keys = adv_payload_keys(ks->adv, &nsigs);
	assert_int_equal(nsigs, 2);
	assert_int_equal(json_array_size(keys), 3);
	assert_non_null(strstr(ks->adv, "\"signatures\""));
	json_decref(keys);
	keyset_unref(ks);
}

static void
test_no_signer(void **state)
{
	struct fixture *f = *state;
	char thp[JWK_THP_MAX + 1];
	struct keyset *ks = NULL;

	put_key(f->dirfd, "ECMR", false, thp);
	/* Served, so that recoveries work, but with no advertisement. */
	assert_int_equal(keyset_load(f->dirfd, 0, &ks), 0);
	assert_int_equal(ks->nadvertised, 1);
	assert_null(ks->adv);
	assert_non_null(keyset_find(ks, thp));
	keyset_unref(ks);
}

/* Loading signs one advertisement, however many keys there are. */
static void
test_many_keys_one_signature(void **state)
{
	struct fixture *f = *state;
	char thp[JWK_THP_MAX + 1], first[JWK_THP_MAX + 1];
	const struct keyset_text *t;
	struct keyset *ks;
	size_t nsigs;
	json_t *keys;

	for (int i = 0; i < 40; i++) {
		put_key(f->dirfd, "ES512", false, i == 0 ? first : thp);
		put_key(f->dirfd, "ECMR", false, thp);
	}
	assert_int_equal(keyset_load(f->dirfd, 0, &ks), 0);
	assert_int_equal(ks->nkeys, 80);
	assert_int_equal(ks->signatures, 1);
	keys = adv_payload_keys(ks->adv, &nsigs);
	assert_int_equal(nsigs, 40);
	json_decref(keys);
	assert_int_equal(keyset_key_adv(ks, keyset_find(ks, first), &t), 0);
	assert_int_equal(ks->signatures, 2);
	keyset_unref(ks);
}

/* A key file others can read is served and marked, not skipped. */
static void
test_exposed_key_served(void **state)
{
	struct fixture *f = *state;
	char sig[JWK_THP_MAX + 1], exc[JWK_THP_MAX + 1], name[JWK_THP_MAX + 8];
	const struct key *k;
	struct keyset *ks;

	put_key(f->dirfd, "ES512", false, sig);
	put_key(f->dirfd, "ECMR", false, exc);
	snprintf(name, sizeof(name), "%s.jwk", exc);
	assert_int_equal(fchmodat(f->dirfd, name, 0644, 0), 0);
	assert_int_equal(keyset_load(f->dirfd, KEYSET_QUIET, &ks), 0);
	assert_int_equal(ks->nkeys, 2);
	assert_int_equal(ks->nexposed, 1);
	k = keyset_find(ks, exc);
	assert_non_null(k);
	assert_true(k->exposed && k->derives);
	assert_false(keyset_find(ks, sig)->exposed);
	keyset_unref(ks);
}

static void
check_mode_0600(int dirfd)
{
	struct stat st;
	int n = 0;
	DIR *d = fdopendir(openat(dirfd, ".", O_RDONLY | O_DIRECTORY));
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' ||
		    strcmp(e->d_name, "..") == 0))
			continue;
		assert_int_equal(fstatat(dirfd, e->d_name, &st, 0), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		n++;
	}
	closedir(d);
	assert_true(n > 0);
}

static void
test_create_and_rotate(void **state)
{
	struct fixture *f = *state;
	char first[JWK_THP_MAX + 1], second[JWK_THP_MAX + 1];
	const struct key *k;
	struct keyset *ks;

	assert_int_equal(keydir_create(f->dirfd, first), 0);
	check_mode_0600(f->dirfd);
	assert_int_equal(keyset_load(f->dirfd, 0, &ks), 0);
	assert_int_equal(ks->nkeys, 2);
	k = keyset_find(ks, first);
	assert_non_null(k);
	assert_true(k->advertised && k->signs);
	/* Files are named after the S256 thumbprint, as tangd-keygen does. */
	assert_string_equal(k->thp[JWK_THP_S256], first);
	keyset_unref(ks);

	assert_int_equal(keydir_rotate(f->dirfd, second), 0);
	check_mode_0600(f->dirfd);
	assert_int_equal(keyset_load(f->dirfd, 0, &ks), 0);
	assert_int_equal(ks->nkeys, 4);
	assert_int_equal(ks->nadvertised, 2);
	k = keyset_find(ks, first);
	assert_non_null(k);
	assert_false(k->advertised);
	assert_non_null(k->jwk);
	k = keyset_find(ks, second);
	assert_non_null(k);
	assert_true(k->advertised);
	assert_null(strstr(ks->adv, "\"d\""));
	keyset_unref(ks);
}

/* Nothing a file holds stops the load: each odd one is skipped alone. */
static void
test_odd_files_skipped(void **state)
{
	static const char *const odd[][2] = {
		{ "empty.jwk", "{}" },
		{ "nokty.jwk", "{\"alg\":\"ES512\",\"key_ops\":[\"sign\",\"verify\"]}" },
		{ "oct.jwk", "{\"kty\":\"oct\",\"k\":\"AAAA\"}" },
		{ "ec.jwk", "{\"kty\":\"EC\",\"crv\":\"P-521\"}" },
		{ "curve.jwk", "{\"kty\":\"EC\",\"crv\":\"secp256k1\"}" },
		{ "array.jwk", "[1]" },
		{ "number.jwk", "5" },
	};
	struct fixture *f = *state;
	char sig[JWK_THP_MAX + 1], exc[JWK_THP_MAX + 1];
	struct keyset *ks;

	put_key(f->dirfd, "ES512", false, sig);
	put_key(f->dirfd, "ECMR", false, exc);
	for (size_t i = 0; i < ARRAY_SIZE(odd); i++)
		put_file(f->dirfd, odd[i][0], odd[i][1]);
	assert_int_equal(mkfifoat(f->dirfd, "fifo.jwk", 0600), 0);
	assert_int_equal(symlinkat("/dev/zero", f->dirfd, "link.jwk"), 0);
	assert_int_equal(keyset_load(f->dirfd, KEYSET_QUIET, &ks), 0);
	assert_int_equal(ks->nkeys, 2);
	assert_non_null(keyset_find(ks, sig));
	assert_non_null(keyset_find(ks, exc));
	assert_non_null(ks->adv);
	keyset_unref(ks);
}

/* Only write_file_at's exact temp names, unlocked, are removed. */
static void
test_temps_removed(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	int held;

	put_file(f->dirfd, ".tmp-0123456789ab", "secret");
	put_file(f->dirfd, ".tmp-0123456789AB", "secret");
	put_file(f->dirfd, ".tmp-0123456789abc", "secret");
	put_file(f->dirfd, ".tmp-aaaaaaaaaaaa", "secret");
	held = openat(f->dirfd, ".tmp-aaaaaaaaaaaa", O_RDONLY);
	assert_true(held >= 0);
	assert_int_equal(flock(held, LOCK_EX), 0);
	assert_int_equal(keydir_remove_temps(f->dirfd, f->path), 0);
	assert_int_equal(fstatat(f->dirfd, ".tmp-0123456789ab", &st, 0), -1);
	assert_int_equal(fstatat(f->dirfd, ".tmp-0123456789AB", &st, 0), 0);
	assert_int_equal(fstatat(f->dirfd, ".tmp-0123456789abc", &st, 0), 0);
	assert_int_equal(fstatat(f->dirfd, ".tmp-aaaaaaaaaaaa", &st, 0), 0);
	close(held);
	assert_int_equal(keydir_remove_temps(f->dirfd, f->path), 0);
	assert_int_equal(fstatat(f->dirfd, ".tmp-aaaaaaaaaaaa", &st, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tang_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_signers_general_jws, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_signer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_keys_one_signature, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exposed_key_served, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_and_rotate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_files_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_temps_removed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
