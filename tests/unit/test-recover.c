/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jose/jose.h>

#include "common/jwk.h"
#include "common/util.h"
#include "server/keyset.h"
#include "server/recover.h"

struct fixture {
	char path[64];
	struct keyset *ks;
	json_t *exc;		/* the server's exchange key, private */
	char sig_kid[JWK_THP_MAX + 1];
	char exc_kid[JWK_THP_MAX + 1];
};

static void
write_key(int dirfd, json_t *jwk, char kid[JWK_THP_MAX + 1])
{
	char name[JWK_THP_MAX + 8], *text = json_dumps(jwk, 0);

	assert_int_equal(jwk_thumbprint(jwk, JWK_THP_S256, kid), 0);
	snprintf(name, sizeof(name), "%s.jwk", kid);
	assert_int_equal(write_file_at(dirfd, name, text, strlen(text), 0600), 0);
	free(text);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	json_t *sig = jwk_generate("ES512");
	int dirfd;

	snprintf(f->path, sizeof(f->path), "/tmp/tether-recover.XXXXXX");
	assert_non_null(mkdtemp(f->path));
	dirfd = open(f->path, O_RDONLY | O_DIRECTORY);
	f->exc = jwk_generate("ECMR");
	write_key(dirfd, sig, f->sig_kid);
	write_key(dirfd, f->exc, f->exc_kid);
	assert_int_equal(keyset_load(dirfd, 0, &f->ks), 0);
	close(dirfd);
	json_decref(sig);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->path);
	keyset_unref(f->ks);
	json_decref(f->exc);
	free(f);
	return system(cmd) == 0 ? 0 : -1;
}

/* A client's request: the public half of a fresh key on crv. */
static json_t *
client_request(const char *crv)
{
	json_t *jwk = json_pack("{s:s,s:s}", "kty", "EC", "crv", crv);

	assert_true(jose_jwk_gen(NULL, jwk));
	assert_true(jose_jwk_pub(NULL, jwk));
	json_object_set_new(jwk, "alg", json_string("ECMR"));
	return jwk;
}

static unsigned
post(struct fixture *f, const char *kid, const json_t *req, char *out)
{
	char reply[ECMR_REPLY_MAX], *body = json_dumps(req, 0);
	size_t len = 0;
	unsigned status = recover(f->ks, kid, body, strlen(body), reply, &len);

	if (out && status == 200)
		memcpy(out, reply, len + 1);
	free(body);
	return status;
}

/* Posts raw bytes to the exchange key. */
static unsigned
post_text(struct fixture *f, const char *body, size_t len)
{
	char reply[ECMR_REPLY_MAX];
	size_t n;

	return recover(f->ks, f->exc_kid, body, len, reply, &n);
}

static void
test_exchange(void **state)
{
	struct fixture *f = *state;
	json_t *req = client_request("P-521"), *want, *got;
	char reply[ECMR_REPLY_MAX];

	assert_int_equal(post(f, f->exc_kid, req, reply), 200);
	got = json_loads(reply, 0, NULL);
	want = jose_jwk_exc(NULL, f->exc, req);
	assert_non_null(got);
	assert_non_null(want);
	assert_true(json_equal(json_object_get(got, "x"), json_object_get(want, "x")));
	assert_true(json_equal(json_object_get(got, "y"), json_object_get(want, "y")));
	json_decref(got);
	json_decref(want);
	json_decref(req);
}

static void
test_statuses(void **state)
{
	struct fixture *f = *state;
	json_t *req = client_request("P-521"), *bad;

	/* Unknown kid, a signing key's kid. */
	assert_int_equal(post(f, "unknown", req, NULL), 404);
	assert_int_equal(post(f, f->sig_kid, req, NULL), 403);

	/* The request key must allow deriveKey, be EC, and be for ECMR. */
	bad = json_deep_copy(req);
	json_object_set_new(bad, "key_ops", json_pack("[s]", "sign"));
	assert_int_equal(post(f, f->exc_kid, bad, NULL), 403);
	json_object_set_new(bad, "key_ops", json_pack("[s]", "deriveKey"));
	assert_int_equal(post(f, f->exc_kid, bad, NULL), 200);
	json_object_set_new(bad, "alg", json_string("ECDH-ES"));
	assert_int_equal(post(f, f->exc_kid, bad, NULL), 400);
	json_object_set_new(bad, "alg", json_integer(1));
	assert_int_equal(post(f, f->exc_kid, bad, NULL), 400);
	json_object_del(bad, "alg");
	assert_int_equal(post(f, f->exc_kid, bad, NULL), 200);
	json_object_set_new(bad, "kty", json_string("oct"));
	assert_int_equal(post(f, f->exc_kid, bad, NULL), 400);
	json_object_del(bad, "kty");
	assert_int_equal(post(f, f->exc_kid, bad, NULL), 400);
	json_decref(bad);

	/* A point on another curve. */
	bad = client_request("P-256");
	assert_int_equal(post(f, f->exc_kid, bad, NULL), 400);
	json_decref(bad);
	json_decref(req);
}

static void
test_not_json(void **state)
{
	struct fixture *f = *state;
	static const char nul[] = "{\"kty\":\"EC\"\0}";

	assert_int_equal(post_text(f, "", 0), 400);
	assert_int_equal(post_text(f, NULL, 0), 400);
	assert_int_equal(post_text(f, "not json", 8), 400);
	assert_int_equal(post_text(f, "[1,2]", 5), 400);
	assert_int_equal(post_text(f, "\"EC\"", 4), 400);
	assert_int_equal(post_text(f, nul, sizeof(nul) - 1), 400);
	/* Only len bytes are read: the same text cut short is not JSON. */
	assert_int_equal(post_text(f, "{\"kty\":\"EC\"}", 5), 400);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exchange),
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_not_json),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
