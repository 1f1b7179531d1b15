/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "client/binding.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <luksmeta.h>

#include "client/jwe.h"
#include "client/luks1_journal.h"
#include "common/util.h"

/* cb6e8904-81ff-40da-a84a-07ab9ab5715e: clevis's luksmeta slot owner. */
static const luksmeta_uuid_t clevis_luksmeta_uuid = {
	0xcb, 0x6e, 0x89, 0x04, 0x81, 0xff, 0x40, 0xda,
	0xa8, 0x4a, 0x07, 0xab, 0x9a, 0xb5, 0x71, 0x5e,
};

/* A keyslot number as LUKS2 JSON spells it: decimal, no sign or padding. */
static int
slot_number(const char *s)
{
	unsigned long v;

	if (!s || (s[0] == '0' && s[1] != '\0'))
		return -EINVAL;
	if (parse_ulong(s, 0, (unsigned long)crypt_keyslot_max(CRYPT_LUKS2) - 1,
	                &v) < 0)
		return -EINVAL;
	return (int)v;
}

/* A flattened JWE from a token, in compact form; -EBADMSG if malformed. */
static int
flat_to_compact(const json_t *flat, char **jwe)
{
	static const char *const parts[] = {
		"protected", "encrypted_key", "iv", "ciphertext", "tag",
	};
	json_t *copy;
	int r = -EBADMSG;

	if (!json_is_object(flat))
		return -EBADMSG;
	copy = json_object();
	if (!copy)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		json_t *v = json_object_get(flat, parts[i]);

		/* Direct key agreement: the encrypted key is absent or empty. */
		if (i == 1 ? v && (!json_is_string(v) || json_string_length(v))
		           : !json_is_string(v))
			goto out;
		if (i != 1 && json_object_set(copy, parts[i], v) < 0)
			goto out;
	}
	r = jwe_format_compact(copy, jwe);
	if (r == -EINVAL)
		r = -EBADMSG;
out:
	json_decref(copy);
	return r;
}

/*
 * Repeated members are taken, the last one winning: jose 11 writes
 * "ciphertext" twice in the token clevis imports, and json-c, which
 * stores the token, keeps the last. So the raw text cryptsetup's import
 * validates and the stored text open reads mean the same.
 */
static json_t *
token_of_type(const char *json, const char *type)
{
	json_t *tok = json_loads(json, 0, NULL);
	const char *t = json_string_value(json_object_get(tok, "type"));

	if (t && strcmp(t, type) == 0 &&
	    json_is_array(json_object_get(tok, "keyslots")))
		return tok;
	json_decref(tok);
	return NULL;
}

/* The keyslot v names and tok's JWE, compact; tok is released. */
static int
take_slot_and_jwe(json_t *tok, const json_t *v, int *slot, char **jwe)
{
	int r = -EBADMSG, s = slot_number(json_string_value(v));

	if (s >= 0 && (r = flat_to_compact(json_object_get(tok, "jwe"),
	                                   jwe)) == 0)
		*slot = s;
	json_decref(tok);
	return r;
}

int
binding_from_token(const char *json, int *slot, char **jwe)
{
	json_t *tok = token_of_type(json, CLEVIS_TOKEN_TYPE);
	json_t *keyslots = json_object_get(tok, "keyslots");

	return take_slot_and_jwe(tok, json_array_size(keyslots) == 1 ?
	                         json_array_get(keyslots, 0) : NULL, slot, jwe);
}

int
binding_from_pending(const char *json, int *slot, bool *removing,
                     char **jwe)
{
	json_t *tok = token_of_type(json, PENDING_TOKEN_TYPE);
	json_t *keyslots = json_object_get(tok, "keyslots");
	json_t *named = json_object_get(tok, "slot");
	size_t n = json_array_size(keyslots);

	/* Assigned, it names its own keyslot and no other. */
	if (n > 1 || (n == 1 && !json_equal(json_array_get(keyslots, 0), named)))
		named = NULL;
	*removing = n == 1;
	return take_slot_and_jwe(tok, named, slot, jwe);
}

bool
binding_token_dangling(const char *json)
{
	json_t *tok = token_of_type(json, CLEVIS_TOKEN_TYPE);
	bool dangling = tok &&
	                json_array_size(json_object_get(tok, "keyslots")) == 0;

	json_decref(tok);
	return dangling;
}

int
binding_token_spare_of(const char *json)
{
	json_t *tok = token_of_type(json, CLEVIS_TOKEN_TYPE);
	int s;

	if (!tok)
		tok = token_of_type(json, PENDING_TOKEN_TYPE);
	s = slot_number(json_string_value(json_object_get(tok, SPARE_MEMBER)));

	json_decref(tok);
	return s < 0 ? -ENOENT : s;
}

static int
token_json(enum token_kind kind, const char *jwe, int slot, int spare_of,
           char **json)
{
	json_t *flat = NULL, *hdr = NULL, *tok = NULL;
	char slotname[16], ofname[16];
	int r;

	r = jwe_parse_compact(jwe, strlen(jwe), &flat, &hdr);
	if (r < 0)
		return r;
	snprintf(slotname, sizeof(slotname), "%d", slot);
	snprintf(ofname, sizeof(ofname), "%d", spare_of);
	r = -ENOMEM;
	if (json_object_set_new(flat, "encrypted_key", json_string("")) < 0)
		goto out;
	if (kind == TOKEN_BINDING)
		tok = json_pack("{s:s,s:[s],s:O}", "type", CLEVIS_TOKEN_TYPE,
		                "keyslots", slotname, "jwe", flat);
	else if (kind == TOKEN_REMOVING)
		tok = json_pack("{s:s,s:[s],s:s,s:O}", "type", PENDING_TOKEN_TYPE,
		                "keyslots", slotname, "slot", slotname, "jwe",
		                flat);
	else
		tok = json_pack("{s:s,s:[],s:s,s:O}", "type", PENDING_TOKEN_TYPE,
		                "keyslots", "slot", slotname, "jwe", flat);
	if (!tok || (spare_of >= 0 && json_object_set_new(tok, SPARE_MEMBER,
	                                          json_string(ofname)) < 0))
		goto out;
	*json = json_dumps(tok, JSON_COMPACT);
	if (*json)
		r = 0;
out:
	json_decref(tok);
	json_decref(hdr);
	json_decref(flat);
	return r;
}

int
binding_token_json(const char *jwe, int slot, char **json)
{
	return token_json(TOKEN_BINDING, jwe, slot, -1, json);
}

static int
binding_add(struct binding **b, size_t *n, int slot, int token, char *jwe)
{
	struct binding *grown = realloc(*b, (*n + 1) * sizeof(**b));

	if (!grown) {
		free(jwe);
		return -ENOMEM;
	}
	*b = grown;
	grown[*n] = (struct binding){ .slot = slot, .token = token, .jwe = jwe };
	(*n)++;
	return 0;
}

static int
load_luks2(struct crypt_device *cd, struct binding **b, size_t *n)
{
	int max = crypt_token_max(CRYPT_LUKS2);

	for (int t = 0; t < max; t++) {
		const char *type = NULL, *json = NULL;
		char *jwe;
		int slot, r;

		switch (crypt_token_status(cd, t, &type)) {
		case CRYPT_TOKEN_EXTERNAL:
		case CRYPT_TOKEN_EXTERNAL_UNKNOWN:
			break;
		default:
			continue;
		}
		if (!type || strcmp(type, CLEVIS_TOKEN_TYPE) != 0 ||
		    crypt_token_json_get(cd, t, &json) < 0 ||
		    binding_from_token(json, &slot, &jwe) < 0)
			continue;
		r = binding_add(b, n, slot, t, jwe);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool
keyslot_in_use(struct crypt_device *cd, int slot)
{
	switch (crypt_keyslot_status(cd, slot)) {
	case CRYPT_SLOT_ACTIVE:
	case CRYPT_SLOT_ACTIVE_LAST:
		return true;
	default:
		return false;
	}
}

int
binding_luks1_jwe(struct crypt_device *cd, int slot, char **out)
{
	luksmeta_uuid_t uuid;
	char *jwe;
	int len;

	len = luksmeta_load(cd, slot, uuid, NULL, 0);
	if (len < 0)
		return len;
	if (len == 0 || (size_t)len > JWE_MAX ||
	    memcmp(uuid, clevis_luksmeta_uuid, sizeof(uuid)) != 0)
		return -ENODATA;
	jwe = calloc(1, (size_t)len + 1);
	if (!jwe)
		return -ENOMEM;
	if (luksmeta_load(cd, slot, uuid, jwe, (size_t)len) != len ||
	    memchr(jwe, '\0', (size_t)len)) {
		free(jwe);
		return -ENODATA;
	}
	*out = jwe;
	return 0;
}

/* clevis's LUKS1 bindings: the JWE, compact, in a luksmeta slot. */
static int
load_luks1(struct crypt_device *cd, struct binding **b, size_t *n)
{
	int max = crypt_keyslot_max(CRYPT_LUKS1);

	if (luksmeta_test(cd) < 0)
		return 0;
	for (int slot = 0; slot < max; slot++) {
		char *jwe;
		int r;

		/* Metadata of an inactive keyslot is debris, as to clevis. */
		if (!keyslot_in_use(cd, slot))
			continue;
		r = binding_luks1_jwe(cd, slot, &jwe);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			continue;
		r = binding_add(b, n, slot, -1, jwe);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
by_slot(const void *a, const void *b)
{
	const struct binding *x = a, *y = b;

	return (x->slot > y->slot) - (x->slot < y->slot);
}

int
bindings_load(struct crypt_device *cd, struct binding **out, size_t *n)
{
	const char *type = crypt_get_type(cd);
	struct binding *b = NULL;
	size_t count = 0;
	int r;

	if (type && strcmp(type, CRYPT_LUKS2) == 0)
		r = load_luks2(cd, &b, &count);
	else if (type && strcmp(type, CRYPT_LUKS1) == 0)
		r = load_luks1(cd, &b, &count);
	else
		r = -EINVAL;
	if (r < 0) {
		bindings_free(b, count);
		return r;
	}
	if (count > 1)
		qsort(b, count, sizeof(*b), by_slot);
	*out = b;
	*n = count;
	return 0;
}

void
bindings_free(struct binding *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(b[i].jwe);
	free(b);
}

const struct binding *
bindings_find(const struct binding *b, size_t n, int slot)
{
	for (size_t i = 0; i < n; i++)
		if (b[i].slot == slot)
			return &b[i];
	return NULL;
}

static bool
is_luks2(struct crypt_device *cd)
{
	const char *type = crypt_get_type(cd);

	return type && strcmp(type, CRYPT_LUKS2) == 0;
}

int
binding_token_write(struct crypt_device *cd, int token, enum token_kind kind,
                    const char *jwe, int slot, int spare_of)
{
	char *json = NULL;
	int r;

	r = token_json(kind, jwe, slot, spare_of, &json);
	if (r < 0)
		return r;
	r = crypt_token_json_set(cd, token >= 0 ? token : CRYPT_ANY_TOKEN, json);
	free(json);
	return r;
}

static int
store_luks2(struct crypt_device *cd, int slot, int token, const char *jwe)
{
	if (token >= 0 &&
	    crypt_token_status(cd, token, NULL) != CRYPT_TOKEN_INACTIVE)
		return -EEXIST;
	return binding_token_write(cd, token, TOKEN_BINDING, jwe, slot, -1);
}

static int
store_luks1(struct crypt_device *cd, int slot, const char *jwe)
{
	luksmeta_uuid_t uuid;
	int r;

	r = luksmeta_load(cd, slot, uuid, NULL, 0);
	if (r >= 0) {
		if (keyslot_in_use(cd, slot) ||
		    memcmp(uuid, clevis_luksmeta_uuid, sizeof(uuid)) != 0)
			return -EEXIST;
		r = luksmeta_wipe(cd, slot, clevis_luksmeta_uuid);
		if (r < 0)
			return r;
	} else if (r != -ENODATA) {
		return r;
	}
	r = luksmeta_save(cd, slot, clevis_luksmeta_uuid, jwe, strlen(jwe));
	if (r >= 0 && luksmeta_test(cd) < 0)
		r = -EIO;
	return r;
}

int
binding_store(struct crypt_device *cd, int slot, int token, const char *jwe)
{
	if (is_luks2(cd))
		return store_luks2(cd, slot, token, jwe);
	if (token >= 0)
		return -ENOTSUP;
	return store_luks1(cd, slot, jwe);
}

int
binding_erase(struct crypt_device *cd, const struct binding *b)
{
	int r;

	if (is_luks2(cd))
		r = crypt_token_json_set(cd, b->token, NULL);
	else
		r = luksmeta_wipe(cd, b->slot, clevis_luksmeta_uuid);
	return r < 0 ? r : 0;
}

int
binding_remove(struct crypt_device *cd, const struct binding *b)
{
	int r;

	if (!is_luks2(cd))
		return luks1_remove(cd, b->slot);
	r = binding_token_write(cd, b->token, TOKEN_REMOVING, b->jwe, b->slot,
	                        -1);
	if (r >= 0)
		r = crypt_keyslot_destroy(cd, b->slot);
	if (r >= 0)
		r = binding_erase(cd, b);
	return r < 0 ? r : 0;
}

int
binding_luks1_test(struct crypt_device *cd)
{
	return luksmeta_test(cd);
}

int
binding_luks1_init(struct crypt_device *cd)
{
	int r = luksmeta_init(cd);

	return r == -EALREADY ? 0 : r;
}

int
binding_luks1_debris(struct crypt_device *cd, bool wipe)
{
	int max = crypt_keyslot_max(CRYPT_LUKS1), found = 0;

	if (luksmeta_test(cd) < 0)
		return 0;
	for (int slot = 0; slot < max; slot++) {
		luksmeta_uuid_t uuid;
		int r;

		if (keyslot_in_use(cd, slot) ||
		    luksmeta_load(cd, slot, uuid, NULL, 0) < 0 ||
		    memcmp(uuid, clevis_luksmeta_uuid, sizeof(uuid)) != 0)
			continue;
		if (wipe && (r = luksmeta_wipe(cd, slot, clevis_luksmeta_uuid)) < 0)
			return r;
		found++;
	}
	return found;
}
