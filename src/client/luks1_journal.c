/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "client/luks1_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <luksmeta.h>
#include <openssl/evp.h>

#include "client/binding.h"
#include "common/log.h"

/* 71e54aa6-d293-47b8-b7e0-50e9868e7432: tether's records. */
static const luksmeta_uuid_t record_uuid = {
	0x71, 0xe5, 0x4a, 0xa6, 0xd2, 0x93, 0x47, 0xb8,
	0xb7, 0xe0, 0x50, 0xe9, 0x86, 0x8e, 0x74, 0x32,
};

/* LUKS1's on-disk header: 8 keyslots of 48 bytes from offset 208, each
   a 4-byte state, 4-byte iteration count, then the 32-byte salt. */
#define LUKS1_HEADER_LEN 592
#define LUKS1_KEYSLOTS 8
#define LUKS1_KEYSLOT_AT(s) (208 + 48 * (s))
#define LUKS1_SALT_AT 8
#define SALT_LEN 32
#define HEX_LEN(n) (2 * (n) + 1)
#define RECORD_MAX 512

static void
to_hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Keyslot slot's salt, as hex, read from the header on disk. */
static int
salt_hex(struct crypt_device *cd, int slot, char out[HEX_LEN(SALT_LEN)])
{
	static const uint8_t magic[] = { 'L', 'U', 'K', 'S', 0xba, 0xbe, 0, 1 };
	const char *path = crypt_get_metadata_device_name(cd);
	uint8_t hdr[LUKS1_HEADER_LEN];
	ssize_t n;
	int fd;

	if (!path)
		path = crypt_get_device_name(cd);
	if (!path || slot < 0 || slot >= LUKS1_KEYSLOTS)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, hdr, sizeof(hdr), 0);
	close(fd);
	if (n != (ssize_t)sizeof(hdr) || memcmp(hdr, magic, sizeof(magic)) != 0)
		return -EINVAL;
	to_hex(hdr + LUKS1_KEYSLOT_AT(slot) + LUKS1_SALT_AT, SALT_LEN, out);
	return 0;
}

static int
jwe_hex(const char *jwe, char out[HEX_LEN(32)])
{
	uint8_t md[32];
	unsigned int len = 0;

	if (EVP_Digest(jwe, strlen(jwe), md, &len, EVP_sha256(), NULL) != 1 ||
	    len != sizeof(md))
		return -EIO;
	to_hex(md, sizeof(md), out);
	return 0;
}

static bool
keyslot_active(struct crypt_device *cd, int slot)
{
	crypt_keyslot_info s = crypt_keyslot_status(cd, slot);

	return s == CRYPT_SLOT_ACTIVE || s == CRYPT_SLOT_ACTIVE_LAST;
}

/* Keyslot slot's binding hashes to hex: it is the one a record names. */
static bool
binding_is(struct crypt_device *cd, int slot, const char *hex)
{
	char have[HEX_LEN(32)];
	char *jwe = NULL;
	bool same;

	if (binding_luks1_jwe(cd, slot, &jwe) < 0)
		return false;
	same = jwe_hex(jwe, have) == 0 && strcmp(have, hex) == 0;
	free(jwe);
	return same;
}

static bool
bound(struct crypt_device *cd, int slot)
{
	char *jwe = NULL;

	if (!keyslot_active(cd, slot) || binding_luks1_jwe(cd, slot, &jwe) < 0)
		return false;
	free(jwe);
	return true;
}

/* The highest keyslot that is unused and whose luksmeta slot is empty. */
static int
record_slot(struct crypt_device *cd, int except)
{
	luksmeta_uuid_t uuid;

	for (int s = LUKS1_KEYSLOTS - 1; s >= 0; s--)
		if (s != except &&
		    crypt_keyslot_status(cd, s) == CRYPT_SLOT_INACTIVE &&
		    luksmeta_load(cd, s, uuid, NULL, 0) == -ENODATA)
			return s;
	return -ENOSPC;
}

/* Saves rec (released) in a free luksmeta slot; returns the slot. */
static int
record_save(struct crypt_device *cd, json_t *rec, int except)
{
	char *text = rec ? json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int s, r;

	json_decref(rec);
	if (!text)
		return -ENOMEM;
	s = record_slot(cd, except);
	if (s >= 0 && (r = luksmeta_save(cd, s, record_uuid, text,
	                                 strlen(text))) < 0)
		s = r;
	free(text);
	return s;
}

/* The record in luksmeta slot s, or NULL when it holds none of tether's. */
static json_t *
record_load(struct crypt_device *cd, int s)
{
	luksmeta_uuid_t uuid;
	char text[RECORD_MAX];
	int len = luksmeta_load(cd, s, uuid, NULL, 0);

	if (len <= 0 || len > RECORD_MAX ||
	    memcmp(uuid, record_uuid, sizeof(uuid)) != 0 ||
	    luksmeta_load(cd, s, uuid, text, sizeof(text)) != len)
		return NULL;
	return json_loadb(text, (size_t)len, JSON_REJECT_DUPLICATES, NULL);
}

static int
record_wipe(struct crypt_device *cd, int s)
{
	int r = luksmeta_wipe(cd, s, record_uuid);

	return r == -EALREADY ? 0 : r;
}

/* Wipes keyslot slot's clevis binding, if it has one. */
static int
binding_wipe(struct crypt_device *cd, int slot)
{
	struct binding b = { .slot = slot, .token = -1 };
	char *jwe = NULL;

	if (binding_luks1_jwe(cd, slot, &jwe) < 0)
		return 0;
	free(jwe);
	return binding_erase(cd, &b);
}

int
luks1_remove(struct crypt_device *cd, int slot)
{
	char salt[HEX_LEN(SALT_LEN)];
	int rec, r;

	r = salt_hex(cd, slot, salt);
	if (r < 0)
		return r;
	rec = record_save(cd, json_pack("{s:i,s:s}", "removing", slot, "salt",
	                                salt), slot);
	if (rec == -ENOSPC) {
		/* Every keyslot in use: as clevis does, with no record. */
		r = crypt_keyslot_destroy(cd, slot);
		return r < 0 ? r : binding_wipe(cd, slot);
	}
	if (rec < 0)
		return rec;
	r = binding_wipe(cd, slot);
	if (r >= 0)
		r = crypt_keyslot_destroy(cd, slot);
	if (r >= 0)
		r = record_wipe(cd, rec);
	return r < 0 ? r : 0;
}

int
luks1_record_spare(struct crypt_device *cd, int spare, int of,
                   const char *jwe)
{
	char hex[HEX_LEN(32)];
	int r = jwe_hex(jwe, hex);

	if (r < 0)
		return r;
	return record_save(cd, json_pack("{s:i,s:i,s:s}", "spare", spare, "for",
	                                 of, "jwe", hex), spare);
}

/* The keyslot record rec is about ("removing" or "spare"), or -1. */
static int
record_about(const json_t *rec, const char *kind)
{
	json_t *v = json_object_get(rec, kind);
	json_int_t s = json_is_integer(v) ? json_integer_value(v) : -1;

	return s >= 0 && s < LUKS1_KEYSLOTS ? (int)s : -1;
}

void
luks1_forget(struct crypt_device *cd, int slot)
{
	for (int s = 0; s < LUKS1_KEYSLOTS; s++) {
		json_t *rec = record_load(cd, s);

		if (rec && (record_about(rec, "removing") == slot ||
		            record_about(rec, "spare") == slot))
			(void)record_wipe(cd, s);
		json_decref(rec);
	}
}

/* A "removing" record: the keyslot it names goes, if it is still that one. */
static const char *
finish_removal(struct crypt_device *cd, int slot, const char *salt)
{
	char now[HEX_LEN(SALT_LEN)];

	if (!keyslot_active(cd, slot) || !salt ||
	    salt_hex(cd, slot, now) < 0 || strcmp(now, salt) != 0)
		return "the keyslot had gone";
	if (crypt_keyslot_status(cd, slot) == CRYPT_SLOT_ACTIVE_LAST)
		return "the keyslot is the last one: it stays";
	if (binding_wipe(cd, slot) < 0 || crypt_keyslot_destroy(cd, slot) < 0)
		return NULL;
	return "the keyslot is removed";
}

/* A "spare" record: the spare goes when the slot it stood in for is bound. */
static const char *
settle_spare(struct crypt_device *cd, int spare, const json_t *rec)
{
	const char *hex = json_string_value(json_object_get(rec, "jwe"));
	int of = record_about(rec, "for");

	if (!hex || !keyslot_active(cd, spare) || !binding_is(cd, spare, hex))
		return "it had made no spare, or removed it";
	if (of < 0 || of == spare || !bound(cd, of))
		return "the slot's binding is gone: the spare takes its place";
	if (luks1_remove(cd, spare) < 0)
		return NULL;
	return "the slot is bound: the spare is removed";
}

/* Each record of kind, settled and wiped; returns how many are left. */
static int
sweep_kind(struct crypt_device *cd, const char *dev, bool clear,
           const char *kind)
{
	int left = 0;

	for (int s = 0; s < LUKS1_KEYSLOTS; s++) {
		json_t *rec = record_load(cd, s);
		int slot = rec ? record_about(rec, kind) : -1;
		const char *done, *noun = kind[0] == 'r' ? "removal" :
		                          "spare binding";

		if (slot < 0) {
			json_decref(rec);
			continue;
		}
		if (!clear) {
			log_warn("%s: luksmeta slot %d records an interrupted %s "
			         "for keyslot %d: the next bind, unbind, regen, edit "
			         "or report finishes it", dev, s, noun, slot);
			left++;
		} else {
			done = kind[0] == 'r' ? finish_removal(cd, slot,
			       json_string_value(json_object_get(rec, "salt"))) :
			       settle_spare(cd, slot, rec);
			if (done && record_wipe(cd, s) < 0)
				done = NULL;
			if (done) {
				log_msg("%s: an interrupted command's %s for keyslot "
				        "%d: %s", dev, noun, slot, done);
			} else {
				log_warn("%s: an interrupted command's %s for keyslot "
				         "%d: cannot be finished", dev, noun, slot);
				left++;
			}
		}
		json_decref(rec);
	}
	return left;
}

int
luks1_sweep(struct crypt_device *cd, const char *dev, bool clear)
{
	if (luksmeta_test(cd) < 0)
		return 0;
	/* Removals first: a spare is settled by whether its slot is bound. */
	return sweep_kind(cd, dev, clear, "removing") +
	       sweep_kind(cd, dev, clear, "spare");
}
