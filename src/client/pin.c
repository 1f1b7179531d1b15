/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "client/pin.h"

#include <errno.h>
#include <string.h>

#include "client/jwe.h"
#include "common/log.h"
#include "common/util.h"

static const struct pin *const pins[] = { &pin_tang, &pin_sss, &pin_null };

const struct pin *
pin_find(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(pins); i++)
		if (strcmp(pins[i]->name, name) == 0)
			return pins[i];
	return NULL;
}

int
pin_encrypt(const char *name, const json_t *cfg, bool trust,
            const uint8_t *pt, size_t len, char **jwe)
{
	const struct pin *pin = pin_find(name);

	if (!pin) {
		log_err("unknown pin '%s' (known: tang, sss, null)", name);
		return -ENOENT;
	}
	if (!json_is_object(cfg)) {
		log_err("%s: the configuration must be a JSON object", name);
		return -EINVAL;
	}
	return pin->encrypt(cfg, trust, pt, len, jwe);
}

int
pin_decrypt(const char *compact, size_t clen, uint8_t **pt, size_t *len)
{
	const struct pin *pin;
	json_t *jwe, *hdr;
	char name[32];
	int r;

	r = jwe_parse_compact(compact, clen, &jwe, &hdr);
	if (r < 0) {
		log_err("malformed JWE: not the compact form clevis writes");
		return r;
	}
	pin = pin_find(jwe_pin(hdr));
	if (!pin) {
		const char *p = jwe_pin(hdr);

		log_escape(name, sizeof(name), p ? p : "", p ? strlen(p) : 0);
		log_err(p ? "the JWE is for pin '%s', which tether does not "
		        "know (known: tang, sss, null)" :
		        "the JWE names no clevis pin%s", name);
		r = -ENOENT;
	} else {
		r = pin->decrypt(jwe, hdr, pt, len);
		if (r == -EFBIG)
			log_err("the JWE's compressed plaintext inflates past "
			        "%d KiB, the most tether encrypts", JWE_PLAINTEXT_MAX /
			        1024);
	}
	json_decref(hdr);
	json_decref(jwe);
	return r;
}
