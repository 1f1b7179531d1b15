/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * clevis's null pin: the key sits in the JWE itself. It protects nothing
 * and exists for tests (an sss share that is always available).
 */
#include <errno.h>
#include <stdlib.h>

#include "client/jwe.h"
#include "client/pin.h"
#include "common/jwk.h"
#include "common/log.h"

static int
null_encrypt(const json_t *cfg, bool trust, const uint8_t *pt, size_t len,
             char **jwe)
{
	json_t *jwk = jwk_generate("A256GCM"), *hdr = NULL;
	int r = -ENOMEM;

	(void)trust;
	if (!jwk)
		goto out;
	/* As clevis: {"fail": true} leaves the key out, a share that fails. */
	hdr = json_is_true(json_object_get(cfg, "fail")) ?
	      json_pack("{s:{s:s,s:{}}}", "clevis", "pin", "null", "null") :
	      json_pack("{s:{s:s,s:{s:O}}}", "clevis", "pin", "null", "null",
	                "jwk", jwk);
	if (hdr)
		r = jwe_encrypt(hdr, jwk, pt, len, jwe);
out:
	json_decref(hdr);
	jwk_free_secret(jwk);
	return r;
}

static int
null_decrypt(const json_t *jwe, const json_t *hdr, uint8_t **pt, size_t *len)
{
	const json_t *jwk = json_object_get(json_object_get(
		json_object_get(hdr, "clevis"), "null"), "jwk");
	int r;

	if (!json_is_object(jwk)) {
		log_err("null pin: the JWE holds no key");
		return -EBADMSG;
	}
	r = jwe_decrypt(jwe, jwk, pt, len);
	if (r < 0 && r != -ENOPKG)
		log_err("null pin: the JWE does not decrypt (damaged or tampered)");
	return r;
}

const struct pin pin_null = {
	.name = "null",
	.summary = "no protection (tests only)",
	.config_help =
	"  fail    true: leave the key out, a share that never decrypts\n"
	"For tests only: without fail, the key is in the JWE.\n",
	.encrypt = null_encrypt,
	.decrypt = null_decrypt,
};
