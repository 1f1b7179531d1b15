/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The encrypt side of the pins: `tether encrypt PIN CONFIG`, whose CONFIG
 * (tang's url, thp, adv, trust, pin, ca, client and token; sss's t and
 * nested pins; null's fail) may come from a provisioning script or a
 * binding being bound again. The input is "PIN\nCONFIG" or
 * "PIN -y\nCONFIG". Servers are the fixture's keys (offline.h); an "adv"
 * file name finds only offline.h's OFFLINE_ADV_FILE. Whatever encrypts
 * must decrypt to the same bytes, unless a null pin in it was told to
 * fail.
 */
#include "fuzz.h"
#include "offline.h"

#include "client/pin.h"
#include "common/util.h"

/* Whether any object in v has "fail": true (a null pin that fails). */
static bool
may_fail(const json_t *v)
{
	const char *name;
	json_t *m;
	size_t i;

	if (json_is_true(json_object_get(v, "fail")))
		return true;
	json_object_foreach((json_t *)v, name, m)
		if (may_fail(m))
			return true;
	json_array_foreach(v, i, m)
		if (may_fail(m))
			return true;
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t secret[32] = "a keyslot passphrase, 32 bytes.";
	const uint8_t *nl = memchr(data, '\n', size);
	char name[16], *jwe = NULL;
	uint8_t *pt = NULL;
	size_t n, len = 0;
	bool trust;
	json_t *cfg;
	int r;

	if (!nl || (size_t)(nl - data) >= sizeof(name))
		return 0;
	n = (size_t)(nl - data);
	memcpy(name, data, n);
	name[n] = '\0';
	trust = n > 3 && strcmp(name + n - 3, " -y") == 0;
	if (trust)
		name[n - 3] = '\0';
	cfg = json_loadb((const char *)nl + 1, size - n - 1, 0, NULL);
	if (!cfg)
		return 0;
	if (pin_encrypt(name, cfg, trust, secret, sizeof(secret), &jwe) == 0) {
		r = pin_decrypt(jwe, strlen(jwe), &pt, &len);
		if (r == 0 && (len != sizeof(secret) ||
		               memcmp(pt, secret, len) != 0))
			abort();
		if (r < 0 && !may_fail(cfg))
			abort();
		free_secret(pt, len);
		free(jwe);
	}
	json_decref(cfg);
	return 0;
}
