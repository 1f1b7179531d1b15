/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What a bind, unbind, regen or edit killed half way leaves in the header,
 * found by the next command and cleared. Each of them orders its header
 * writes (luks_bind.c, binding_remove()) so that every state it can be
 * stopped in is made of these:
 *
 * - a pending token for keyslot N, assigned to N: the run was removing N
 *   (libcryptsetup wipes the key material before the header stops
 *   listing the keyslot, so no key may open N any more). The assignment,
 *   which libcryptsetup drops with the keyslot, proves N is the one: N
 *   and the token go. Unless N is now the last keyslot: then it stays.
 * - a pending token for keyslot N, unassigned: the run wrote it before
 *   adding N, and was stopped before the token became N's binding. If N
 *   is inactive, or some token names N, N is not one it added and only
 *   the token goes. Otherwise its JWE is decrypted: a key that opens N
 *   proves N holds the random key the run added (nobody else knows it),
 *   and the token becomes N's binding; a key that does not proves N is
 *   someone else's, and only the token goes. When the servers do not
 *   answer nothing can be told, and both stay, said so.
 * - a spare binding for slot N: regen or edit was stopped before removing
 *   the second binding it verifies before making N again. If N is bound,
 *   the spare goes; if not, the spare is the binding now and loses its
 *   mark.
 * - a clevis token naming no keyslot (cryptsetup luksKillSlot, or clevis
 *   stopped half way): it opens nothing and goes, as clevis's bind does.
 *
 * LUKS1 has no tokens: tether's records in luksmeta (luks1_journal.h) say
 * what a removal or a spare binding was about, and clevis's luksmeta data
 * of a keyslot not in use is what an interrupted bind leaves, and is
 * wiped.
 */
#include "client/luks.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client/luks1_journal.h"
#include "client/pin.h"
#include "common/log.h"
#include "common/util.h"

struct sweep {
	struct crypt_device *cd;
	const char *dev;
	bool clear;
	int left;   /* leftovers found and not cleared */
};

/* Token t's JSON text if t is an external token of type; else NULL. */
static const char *
token_text(struct crypt_device *cd, int t, const char *type)
{
	const char *have = NULL, *json = NULL;

	switch (crypt_token_status(cd, t, &have)) {
	case CRYPT_TOKEN_EXTERNAL:
	case CRYPT_TOKEN_EXTERNAL_UNKNOWN:
		break;
	default:
		return NULL;
	}
	if (!have || strcmp(have, type) != 0 ||
	    crypt_token_json_get(cd, t, &json) < 0)
		return NULL;
	return json;
}

/* Some token, of any type, names keyslot slot. */
static bool
slot_has_token(struct crypt_device *cd, int slot)
{
	int max = crypt_token_max(CRYPT_LUKS2);

	for (int t = 0; t < max; t++)
		if (crypt_token_is_assigned(cd, t, slot) == 0)
			return true;
	return false;
}

/* A clevis token other than a spare binds keyslot slot. */
static bool
slot_is_bound(struct crypt_device *cd, int slot)
{
	int max = crypt_token_max(CRYPT_LUKS2);

	for (int t = 0; t < max; t++) {
		const char *json = token_text(cd, t, CLEVIS_TOKEN_TYPE);
		char *jwe = NULL;
		int s;

		if (!json || binding_token_spare_of(json) >= 0 ||
		    binding_from_token(json, &s, &jwe) < 0)
			continue;
		free(jwe);
		if (s == slot)
			return true;
	}
	return false;
}

static void
found(struct sweep *sw, int r, const char *what, const char *done)
{
	if (!sw->clear) {
		log_warn("%s: %s: the next bind, unbind, regen, edit or report "
		         "clears it", sw->dev, what);
		sw->left++;
	} else if (r < 0) {
		log_warn("%s: %s: cannot clear it: %s", sw->dev, what,
		         strerror(-r));
		sw->left++;
	} else {
		log_msg("%s: %s: %s", sw->dev, what, done);
	}
}

static void
sweep_dangling(struct sweep *sw, int t, const char *json)
{
	char what[128];
	int r = 0;

	if (!binding_token_dangling(json))
		return;
	snprintf(what, sizeof(what), "clevis token %d names no keyslot (an "
	         "interrupted unbind or regen left it)", t);
	if (sw->clear)
		r = crypt_token_json_set(sw->cd, t, NULL);
	found(sw, r, what, "removed");
}

/*
 * The keyslot a pending token was written for holds the key its JWE
 * recovers: 1 if so, 0 if not, -errno when the key cannot be recovered.
 */
static int
jwe_opens(struct crypt_device *cd, int slot, const char *jwe)
{
	uint8_t *pt = NULL;
	size_t n = 0;
	int r = pin_decrypt(jwe, strlen(jwe), &pt, &n);

	if (r < 0)
		return r;
	r = crypt_activate_by_passphrase(cd, NULL, slot, (const char *)pt, n,
	                                 0) >= 0;
	free_secret(pt, n);
	return r;
}

/* Assigned to keyslot slot, the token says the run was removing it. */
static void
sweep_removing(struct sweep *sw, int t, const char *what, int slot,
               const char *jwe, int spare_of)
{
	int r, opens;

	if (crypt_keyslot_status(sw->cd, slot) != CRYPT_SLOT_ACTIVE_LAST) {
		r = crypt_keyslot_destroy(sw->cd, slot);
		if (r >= 0)
			r = crypt_token_json_set(sw->cd, t, NULL);
		found(sw, r, what, "it was removing the keyslot: both are "
		      "removed");
		return;
	}
	/* Every other keyslot went since: this one is not to lose. */
	opens = jwe_opens(sw->cd, slot, jwe);
	r = opens > 0 ? binding_token_write(sw->cd, t, TOKEN_BINDING, jwe, slot,
	                                    spare_of) : -EPERM;
	found(sw, r, what, "the keyslot is the last one: it stays bound");
}

static void
sweep_pending(struct sweep *sw, int t, const char *json)
{
	struct crypt_device *cd = sw->cd;
	int spare_of = binding_token_spare_of(json), slot, r, added = 0;
	char what[160];
	char *jwe = NULL;
	bool removing;

	if (binding_from_pending(json, &slot, &removing, &jwe) < 0)
		return;
	snprintf(what, sizeof(what), "token %d is an interrupted command's, "
	         "pending for keyslot %d", t, slot);
	if (!sw->clear) {
		found(sw, 0, what, "");
	} else if (removing) {
		sweep_removing(sw, t, what, slot, jwe, spare_of);
	} else {
		bool active = crypt_keyslot_status(cd, slot) !=
		              CRYPT_SLOT_INACTIVE;

		if (active && !slot_has_token(cd, slot))
			added = jwe_opens(cd, slot, jwe);
		if (added < 0) {
			log_warn("%s: %s: its servers do not answer, so whether "
			         "keyslot %d holds its key cannot be told: both are "
			         "kept", sw->dev, what, slot);
			sw->left++;
		} else if (added) {
			r = binding_token_write(cd, t, TOKEN_BINDING, jwe, slot,
			                        spare_of);
			found(sw, r, what, "its key opens the keyslot: the binding "
			      "is completed");
		} else {
			r = crypt_token_json_set(cd, t, NULL);
			found(sw, r, what, active ? "the keyslot is another's: "
			      "the token is removed" : "it added no keyslot: the "
			      "token is removed");
		}
	}
	free(jwe);
}

static void
sweep_spare(struct sweep *sw, int t, const char *json)
{
	struct binding b = { .token = t };
	int of = binding_token_spare_of(json), r = 0;
	char what[160], done[64];

	if (of < 0 || binding_from_token(json, &b.slot, &b.jwe) < 0)
		return;
	snprintf(what, sizeof(what), "keyslot %d holds the spare binding an "
	         "interrupted regen or edit of slot %d made", b.slot, of);
	if (slot_is_bound(sw->cd, of)) {
		if (sw->clear)
			r = binding_remove(sw->cd, &b);
		snprintf(done, sizeof(done), "removed, as slot %d is bound", of);
	} else {
		if (sw->clear)
			r = binding_token_write(sw->cd, t, TOKEN_BINDING, b.jwe,
			                        b.slot, -1);
		snprintf(done, sizeof(done), "slot %d's binding is gone: this "
		         "one takes its place", of);
	}
	found(sw, r, what, done);
	free(b.jwe);
}

/* One kind of leftover across all tokens of type. */
static void
sweep_tokens(struct sweep *sw, const char *type,
             void (*one)(struct sweep *, int, const char *))
{
	int max = crypt_token_max(CRYPT_LUKS2);

	for (int t = 0; t < max; t++) {
		const char *json = token_text(sw->cd, t, type);

		if (json)
			one(sw, t, json);
	}
}

int
luks_clear_debris(struct crypt_device *cd, const char *dev, bool clear)
{
	struct sweep sw = { .cd = cd, .dev = dev, .clear = clear };
	int r;

	if (strcmp(crypt_get_type(cd), CRYPT_LUKS2) != 0) {
		sw.left = luks1_sweep(cd, dev, clear);
		r = binding_luks1_debris(cd, clear);
		if (r > 0)
			log_warn("%s: %d luksmeta slot(s) of unused keyslots hold "
			         "clevis bindings an interrupted bind or unbind left%s",
			         dev, r, clear ? ": wiped" : "");
		return r < 0 ? r : sw.left + (clear ? 0 : r);
	}
	/* In this order: each step can leave what the next one looks at. */
	sweep_tokens(&sw, CLEVIS_TOKEN_TYPE, sweep_dangling);
	sweep_tokens(&sw, PENDING_TOKEN_TYPE, sweep_pending);
	sweep_tokens(&sw, CLEVIS_TOKEN_TYPE, sweep_spare);
	return sw.left;
}
