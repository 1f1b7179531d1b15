/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "client/pin.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "client/jwe.h"
#include "common/log.h"
#include "common/util.h"

static const struct pin *const pins[] = {
	&pin_tang, &pin_sss, &pin_tpm2, &pin_null,
};

static char names[128];

static void
join_names(void)
{
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(pins) && n < sizeof(names); i++)
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s",
		                      i ? ", " : "", pins[i]->name);
}

const char *
pin_names(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, join_names);
	return names;
}

void
pin_list(FILE *f)
{
	for (size_t i = 0; i < ARRAY_SIZE(pins); i++)
		fprintf(f, "          %-5s %s\n", pins[i]->name, pins[i]->summary);
}

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
		log_err("unknown pin '%s' (known: %s)", name, pin_names());
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
		if (p)
			log_err("the JWE is for pin '%s', which tether does not "
			        "know (known: %s)", name, pin_names());
		else
			log_err("the JWE names no clevis pin");
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
