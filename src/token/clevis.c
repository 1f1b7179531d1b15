/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libcryptsetup-token-clevis.so: libcryptsetup's handler for tokens of type
 * "clevis", so that `cryptsetup open --token-only` and systemd-cryptsetup
 * unlock volumes bound by clevis or tether with no shell scripts. Only the
 * symbols of CRYPTSETUP_TOKEN_1.0 leave this object (token.sym).
 *
 * There is deliberately no cryptsetup_token_dump: libcryptsetup calls it
 * only when present, and whatever it printed would sit between "N: clevis"
 * and "Keyslot: S" in `cryptsetup luksDump`, where clevis's scripts read
 * the token's type from the line before "Keyslot:".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libcryptsetup.h>

#include "client/binding.h"
#include "client/describe.h"
#include "client/pin.h"
#include "common/log.h"
#include "common/util.h"

int cryptsetup_token_open(struct crypt_device *cd, int token, char **buffer,
                          size_t *buffer_len, void *usrptr);
void cryptsetup_token_buffer_free(void *buffer, size_t buffer_len);
int cryptsetup_token_validate(struct crypt_device *cd, const char *json);
const char *cryptsetup_token_version(void);

int
cryptsetup_token_open(struct crypt_device *cd, int token, char **buffer,
                      size_t *buffer_len, void *usrptr)
{
	const char *json = NULL;
	char *jwe = NULL;
	uint8_t *pt = NULL;
	size_t len = 0;
	int slot, r;

	(void)usrptr;
	log_init("tether-token");
	r = crypt_token_json_get(cd, token, &json);
	if (r < 0)
		return r;
	r = binding_from_token(json, &slot, &jwe);
	if (r < 0)
		return -EINVAL;
	r = pin_decrypt(jwe, strlen(jwe), &pt, &len);
	free(jwe);
	if (r < 0) {
		crypt_log(cd, CRYPT_LOG_DEBUG, "clevis token: no key recovered");
		/* libcryptsetup goes on to the next token or the passphrase. */
		return -ENOENT;
	}
	*buffer = (char *)pt;
	*buffer_len = len;
	return 0;
}

void
cryptsetup_token_buffer_free(void *buffer, size_t buffer_len)
{
	free_secret(buffer, buffer_len);
}

int
cryptsetup_token_validate(struct crypt_device *cd, const char *json)
{
	char *jwe = NULL, *text = NULL;
	int slot, r;

	r = binding_from_token(json, &slot, &jwe);
	if (r == 0)
		r = describe_binding(jwe, &text);
	if (r < 0)
		crypt_log(cd, CRYPT_LOG_ERROR, "clevis token: not clevis's "
		          "layout of a JWE and one keyslot\n");
	free(text);
	free(jwe);
	return r < 0 ? -EINVAL : 0;
}

const char *
cryptsetup_token_version(void)
{
	return TETHER_VERSION;
}
