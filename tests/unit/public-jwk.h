/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_TEST_PUBLIC_JWK_H
#define TETHER_TEST_PUBLIC_JWK_H

#include <jose/jwk.h>

/* The public half of a generated JWK; include after cmocka.h. */
static inline json_t *
public_copy(const json_t *jwk)
{
	json_t *pub = json_deep_copy(jwk);

	assert_non_null(pub);
	assert_true(jose_jwk_pub(NULL, pub));
	return pub;
}

#endif
