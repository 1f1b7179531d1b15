/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * tether luks bind, regen and report: the commands that write a binding.
 * Every step that can fail happens before the header changes, or is undone,
 * or leaves a second working binding beside the first: an interrupted run
 * never costs the volume its passphrase.
 */
#include "client/luks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <jose/b64.h>

#include "client/adv.h"
#include "client/describe.h"
#include "client/pin.h"
#include "client/request.h"
#include "client/tty.h"
#include "common/jwk.h"
#include "common/log.h"
#include "common/util.h"

/* cryptsetup's own bound on a key file read as a passphrase. */
#define KEYFILE_MAX (8 * 1024 * 1024)
/* Longer than any volume key: LUKS2 allows 512-bit keys for XTS. */
#define VOLUME_KEY_MAX 128

/*
 * The key is random: a cheap PBKDF costs no strength, and unlocking does
 * not pay Argon2's memory at boot. clevis uses the same.
 */
static int
set_cheap_pbkdf(struct crypt_device *cd)
{
	static const struct crypt_pbkdf_type pbkdf2 = {
		.type = CRYPT_KDF_PBKDF2,
		.hash = "sha256",
		.iterations = 1000,
		.flags = CRYPT_PBKDF_NO_BENCHMARK,
	};

	return crypt_set_pbkdf_type(cd, &pbkdf2);
}

/* A passphrase as strong as the volume key: its bytes, base64url. */
static int
new_key(struct crypt_device *cd, char **key, size_t *len)
{
	uint8_t raw[VOLUME_KEY_MAX];
	int n = crypt_get_volume_key_size(cd);
	size_t enc, cap;
	char *out;

	if (n <= 0 || n > VOLUME_KEY_MAX)
		return -EINVAL;
	if (getrandom(raw, (size_t)n, 0) != n)
		return -EIO;
	cap = ((size_t)n * 4 + 2) / 3 + 1;
	out = malloc(cap);
	enc = out ? jose_b64_enc_buf(raw, (size_t)n, out, cap) : SIZE_MAX;
	explicit_bzero(raw, sizeof(raw));
	if (enc == SIZE_MAX || enc >= cap) {
		free_secret(out, out ? cap : 0);
		return -ENOMEM;
	}
	out[enc] = '\0';
	*key = out;
	*len = enc;
	return 0;
}

static int
remove_binding(struct crypt_device *cd, int token, int slot)
{
	int r = crypt_token_json_set(cd, token, NULL);

	if (r >= 0)
		r = crypt_keyslot_destroy(cd, slot);
	return r < 0 ? r : 0;
}

int
luks_add_binding(struct crypt_device *cd, const char *dev, int slot,
                 int token, const char *old, size_t oldlen, const char *pin,
                 const json_t *cfg, bool trust, char **key, size_t *keylen)
{
	char *newkey = NULL, *jwe = NULL, *json = NULL;
	size_t len = 0;
	int r, t;

	r = new_key(cd, &newkey, &len);
	if (r < 0) {
		log_msg("%s: cannot make a key: %s", dev, strerror(-r));
		return r;
	}
	r = pin_encrypt(pin, cfg, trust, (const uint8_t *)newkey, len, &jwe);
	if (r == 0 && (r = binding_token_json(jwe, slot, &json)) < 0)
		log_msg("%s: cannot write the token: %s", dev, strerror(-r));
	if (r == 0 && (r = set_cheap_pbkdf(cd)) < 0)
		log_msg("%s: cannot set PBKDF2: %s", dev, strerror(-r));
	if (r == 0) {
		r = crypt_keyslot_add_by_passphrase(cd, slot, old, oldlen, newkey,
		                                    len);
		if (r < 0)
			log_msg("%s: cannot add keyslot %d: %s", dev, slot,
			        r == -EPERM ? "the passphrase does not open the "
			        "volume" : strerror(-r));
	}
	if (r >= 0) {
		t = crypt_token_json_set(cd, token >= 0 ? token : CRYPT_ANY_TOKEN,
		                         json);
		if (t < 0) {
			log_msg("%s: cannot store the token: %s", dev, strerror(-t));
			if (crypt_keyslot_destroy(cd, slot) < 0)
				log_msg("%s: keyslot %d holds an unused random "
				        "key: remove it with cryptsetup "
				        "luksKillSlot", dev, slot);
		}
		r = t;
	}
	free(json);
	free(jwe);
	if (r >= 0 && key) {
		*key = newkey;
		*keylen = len;
	} else {
		free_secret(newkey, len);
	}
	return r;
}

/* A passphrase that opens the volume: -k, a binding, or the terminal. */
static int
existing_key(struct crypt_device *cd, const struct luks_args *a, char **key,
             size_t *len)
{
	uint8_t *buf = NULL;
	struct binding *all;
	size_t n = 0;
	int r, fd;

	if (a->keyfile) {
		fd = strcmp(a->keyfile, "-") == 0 ? STDIN_FILENO :
		     open(a->keyfile, O_RDONLY | O_CLOEXEC);
		r = fd < 0 ? -errno : read_fd(fd, KEYFILE_MAX, &buf, &n);
		if (fd > STDIN_FILENO)
			close(fd);
		if (r < 0) {
			log_msg("%s: %s", a->keyfile, strerror(-r));
			return r;
		}
		*key = (char *)buf;
		*len = n;
		return 0;
	}
	if (bindings_load(cd, &all, &n) == 0) {
		r = -ENOENT;
		for (size_t i = 0; i < n && r < 0; i++)
			r = luks_recover(cd, &all[i], key, len);
		bindings_free(all, n);
		if (r == 0)
			return 0;
	}
	r = tty_read_secret("Enter existing LUKS password: ", KEYFILE_MAX, key,
	                    len);
	if (r < 0)
		log_msg("%s: no passphrase: give -k KEYFILE (or -k - for stdin) "
		        "or run on a terminal", a->dev);
	return r;
}

int
luks_bind(struct crypt_device *cd, const struct luks_args *a)
{
	json_error_t err;
	json_t *cfg;
	char *old = NULL;
	size_t oldlen = 0;
	int slot = a->slot, r;

	if (strcmp(crypt_get_type(cd), CRYPT_LUKS2) != 0) {
		log_msg("%s: tether binds LUKS2 volumes only; this is LUKS1 "
		        "(cryptsetup convert --type luks2 upgrades it)", a->dev);
		return -ENOTSUP;
	}
	if (slot >= 0 && crypt_keyslot_status(cd, slot) != CRYPT_SLOT_INACTIVE) {
		log_msg("%s: keyslot %d is in use", a->dev, slot);
		return -EEXIST;
	}
	if (a->token >= 0 &&
	    crypt_token_status(cd, a->token, NULL) != CRYPT_TOKEN_INACTIVE) {
		log_msg("%s: token %d is in use", a->dev, a->token);
		return -EEXIST;
	}
	if (slot < 0 && (slot = luks_free_slot(cd, -1)) < 0) {
		log_msg("%s: no free keyslot", a->dev);
		return slot;
	}
	cfg = json_loads(a->config, 0, &err);
	if (!json_is_object(cfg)) {
		log_msg("%s: the configuration is not a JSON object (%s)", a->pin,
		        cfg ? "another JSON value" : err.text);
		json_decref(cfg);
		return -EINVAL;
	}
	r = existing_key(cd, a, &old, &oldlen);
	if (r == 0 && crypt_activate_by_passphrase(cd, NULL, CRYPT_ANY_SLOT, old,
	                                           oldlen, 0) < 0) {
		log_msg("%s: the passphrase does not open the volume", a->dev);
		r = -EPERM;
	}
	if (r == 0)
		r = luks_add_binding(cd, a->dev, slot, a->token, old, oldlen,
		                     a->pin, cfg, a->yes, NULL, NULL);
	free_secret(old, oldlen);
	json_decref(cfg);
	return r < 0 ? r : 0;
}

/* The binding in token t decrypts, through its servers, to key. */
static int
verify_binding(struct crypt_device *cd, int t, const char *key, size_t len)
{
	const char *json = NULL;
	char *jwe = NULL;
	uint8_t *pt = NULL;
	size_t n = 0;
	int slot, r;

	r = crypt_token_json_get(cd, t, &json);
	if (r >= 0)
		r = binding_from_token(json, &slot, &jwe);
	if (r == 0)
		r = pin_decrypt(jwe, strlen(jwe), &pt, &n);
	if (r == 0 && (n != len || !equal_const_time(pt, key, len)))
		r = -EBADMSG;
	if (r == 0 && crypt_activate_by_passphrase(cd, NULL, slot, key, len, 0) < 0)
		r = -EKEYREJECTED;
	free_secret(pt, n);
	free(jwe);
	return r;
}

static bool
confirm_regen(struct crypt_device *cd, const struct luks_args *a,
              const struct binding *b, const char *pin)
{
	char *text = NULL;
	int r;

	(void)cd;
	if (a->quiet)
		return true;
	if (describe_binding(b->jwe, &text) == 0) {
		printf("Regenerating binding (device %s, slot %d):\n", a->dev,
		       b->slot);
		printf("Pin: %s, Config: %s\n", pin, strchr(text, ' ') + 1);
		fflush(stdout);
	}
	free(text);
	r = tty_ask_yes("Do you want to proceed? [ynYN] ");
	if (r != 1)
		log_msg(r < 0 ? "no terminal to confirm on: use -q" :
		        "not confirmed: nothing changed");
	return r == 1;
}

/*
 * Replaces slot's key with the new one in place and points its token at
 * the new JWE (the one verified in token t).
 */
static int
replace_in_place(struct crypt_device *cd, const struct binding *b, int t,
                 const char *old, size_t oldlen, const char *key, size_t len)
{
	const char *json = NULL;
	char *jwe = NULL, *moved = NULL;
	int slot, r;

	r = crypt_token_json_get(cd, t, &json);
	if (r >= 0)
		r = binding_from_token(json, &slot, &jwe);
	if (r == 0)
		r = binding_token_json(jwe, b->slot, &moved);
	if (r == 0)
		r = set_cheap_pbkdf(cd);
	if (r == 0)
		r = crypt_keyslot_change_by_passphrase(cd, b->slot, b->slot, old,
		                                       oldlen, key, len);
	if (r >= 0)
		r = crypt_token_json_set(cd, b->token, moved);
	if (r >= 0 && crypt_activate_by_passphrase(cd, NULL, b->slot, key, len,
	                                           0) < 0)
		r = -EKEYREJECTED;
	free(moved);
	free(jwe);
	return r < 0 ? r : 0;
}

int
luks_regen(struct crypt_device *cd, const struct luks_args *a)
{
	struct binding *all = NULL;
	const struct binding *b = NULL;
	const char *pin = NULL;
	json_t *cfg = NULL;
	char *old = NULL, *key = NULL;
	size_t n = 0, oldlen = 0, len = 0;
	int spare = -1, t = -1, r;

	if (strcmp(crypt_get_type(cd), CRYPT_LUKS2) != 0) {
		log_msg("%s: tether regenerates LUKS2 bindings only", a->dev);
		return -ENOTSUP;
	}
	r = bindings_load(cd, &all, &n);
	if (r == 0 && !(b = bindings_find(all, n, a->slot))) {
		log_msg("%s: no clevis binding in slot %d", a->dev, a->slot);
		r = -ENOENT;
	}
	if (r == 0 && (r = rebind_config(b->jwe, &pin, &cfg)) < 0)
		log_msg("slot %d: %s", a->slot, r == -ENOTSUP ? "its pin is one "
		        "tether cannot bind" : "the binding's JWE is malformed");
	if (r == 0 && !confirm_regen(cd, a, b, pin))
		r = -ECANCELED;
	if (r == 0)
		r = luks_recover(cd, b, &old, &oldlen);
	if (r == 0 && (spare = luks_free_slot(cd, b->slot)) < 0) {
		log_msg("%s: no free keyslot to verify the new binding in before "
		        "the old one is replaced", a->dev);
		r = spare;
	}
	/* First a second binding, verified end to end through the servers. */
	if (r == 0) {
		t = luks_add_binding(cd, a->dev, spare, -1, old, oldlen, pin, cfg,
		                     a->yes, &key, &len);
		r = t < 0 ? t : verify_binding(cd, t, key, len);
		if (t >= 0 && r < 0) {
			log_msg("%s: the new binding does not unlock: the old one "
			        "is kept", a->dev);
			remove_binding(cd, t, spare);
		}
	}
	/* Then the slot itself; until the end the spare binding opens it. */
	if (r == 0 && (r = replace_in_place(cd, b, t, old, oldlen, key, len)) < 0)
		log_msg("%s: slot %d could not be updated (%s); the new binding "
		        "in slot %d opens the volume", a->dev, a->slot,
		        strerror(-r), spare);
	if (r == 0 && remove_binding(cd, t, spare) < 0)
		log_msg("%s: slot %d is regenerated; the spare binding in slot "
		        "%d could not be removed", a->dev, a->slot, spare);
	free_secret(key, len);
	free_secret(old, oldlen);
	json_decref(cfg);
	bindings_free(all, n);
	return r;
}

struct report {
	json_t *rotated;   /* thumbprints no longer advertised */
	int failed;
};

static int
report_pin(const char *url, const json_t *jwks, void *arg)
{
	struct report *rep = arg;
	json_t *jws = NULL, *now = NULL, *k;
	char thp[JWK_THP_MAX + 1];
	struct url u;
	size_t i;

	if (!url || server_url("tang", url, &u) < 0 ||
	    adv_fetch(&u, NULL, &jws, &now) < 0) {
		rep->failed++;
		return 0;
	}
	json_array_foreach(json_object_get(jwks, "keys"), i, k) {
		const json_t *c;
		bool found = false;
		size_t j;

		if (jwk_thumbprint(k, JWK_THP_S256, thp) < 0)
			continue;
		json_array_foreach(json_object_get(now, "keys"), j, c) {
			char t2[JWK_THP_MAX + 1];

			if (jwk_thumbprint(c, JWK_THP_S256, t2) == 0 &&
			    strcmp(t2, thp) == 0)
				found = true;
		}
		if (!found)
			json_array_append_new(rep->rotated, json_string(thp));
	}
	json_decref(jws);
	json_decref(now);
	return 0;
}

int
luks_report(struct crypt_device *cd, const struct luks_args *a)
{
	struct report rep = { .rotated = json_array() };
	struct binding *all;
	const struct binding *b = NULL;
	char question[512];
	const json_t *v;
	size_t n = 0, i;
	int r;

	r = rep.rotated ? bindings_load(cd, &all, &n) : -ENOMEM;
	if (r == 0 && !(b = bindings_find(all, n, a->slot))) {
		log_msg("%s: no clevis binding in slot %d", a->dev, a->slot);
		bindings_free(all, n);
		r = -ENOENT;
	}
	if (r == 0) {
		r = describe_tang_pins(b->jwe, report_pin, &rep);
		bindings_free(all, n);
	}
	if (r == 0 && rep.failed) {
		log_msg("slot %d: unable to verify whether there are rotated keys",
		        a->slot);
		r = -EHOSTUNREACH;
	}
	if (r < 0 || json_array_size(rep.rotated) == 0) {
		json_decref(rep.rotated);
		return r;
	}
	printf("The following keys are not in the current advertisement and "
	       "were probably rotated:\n");
	json_array_foreach(rep.rotated, i, v)
		printf("  %s\n", json_string_value(v));
	fflush(stdout);
	json_decref(rep.rotated);
	if (!a->regen && !a->quiet) {
		snprintf(question, sizeof(question), "Do you want to regenerate "
		         "the binding with \"tether luks regen -q -d %s -s %d\"? "
		         "[ynYN] ", a->dev, a->slot);
		if (tty_ask_yes(question) == 1)
			return luks_regen(cd, &(struct luks_args){
				.dev = a->dev, .slot = a->slot, .quiet = true });
	}
	if (a->regen)
		return luks_regen(cd, &(struct luks_args){
			.dev = a->dev, .slot = a->slot, .quiet = true });
	return -ESTALE;
}
