/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * tether luks bind, regen, edit and report: the commands that write a
 * binding. Every step that can fail happens before the header changes, or
 * is undone, or leaves a second working binding beside the first: an
 * interrupted run never costs the volume its passphrase.
 */
#include "client/luks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>


#include "client/adv.h"
#include "client/describe.h"
#include "client/luks1_journal.h"
#include "client/pin.h"
#include "client/request.h"
#include "client/tty.h"
#include "common/b64.h"
#include "common/jwk.h"
#include "common/log.h"
#include "common/util.h"

/* Longer than any volume key: LUKS2 allows 512-bit keys for XTS. */
#define VOLUME_KEY_MAX 128

static bool
is_luks2(struct crypt_device *cd)
{
	return strcmp(crypt_get_type(cd), CRYPT_LUKS2) == 0;
}

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
	size_t cap;
	char *out;
	int enc;

	if (n <= 0 || n > VOLUME_KEY_MAX)
		return -EINVAL;
	if (getrandom(raw, (size_t)n, 0) != n)
		return -EIO;
	cap = b64_encoded_len((size_t)n) + 1;
	out = malloc(cap);
	enc = out ? b64_encode(raw, (size_t)n, out, cap) : -ENOMEM;
	explicit_bzero(raw, sizeof(raw));
	if (enc < 0) {
		free_secret(out, out ? cap : 0);
		return -ENOMEM;
	}
	*key = out;
	*len = (size_t)enc;
	return 0;
}

static const char *
store_error(int r)
{
	return r == -ENOSPC ? "the binding does not fit LUKS1's metadata area" :
	       r == -EEXIST ? "the slot already holds a binding" : strerror(-r);
}

/*
 * Adds keyslot slot holding key: unlocked by old in keyslot from, or in
 * any keyslot when from < 0 (the passphrase's slot is not known).
 */
static int
add_keyslot(struct crypt_device *cd, int slot, int from, const char *old,
            size_t oldlen, const char *key, size_t len)
{
	char vk[VOLUME_KEY_MAX];
	size_t vklen = sizeof(vk);
	int r;

	if (from < 0)
		return crypt_keyslot_add_by_passphrase(cd, slot, old, oldlen, key,
		                                       len);
	r = crypt_volume_key_get(cd, from, vk, &vklen, old, oldlen);
	if (r >= 0)
		r = crypt_keyslot_add_by_volume_key(cd, slot, vk, vklen, key,
		                                    len);
	explicit_bzero(vk, sizeof(vk));
	return r;
}

static void
log_add_error(const char *dev, int slot, int r)
{
	log_err("%s: cannot add keyslot %d: %s", dev, slot, r == -EPERM ?
	        "the passphrase does not open the volume" : strerror(-r));
}

/*
 * LUKS1: clevis's luksmeta data first, which nothing reads while its
 * keyslot is inactive, then the keyslot; so a JWE too large for the
 * metadata area is refused before anything changes.
 */
static int
store_luks1_binding(struct crypt_device *cd, const char *dev, int slot,
                    int from, const char *jwe, const char *old,
                    size_t oldlen, const char *key, size_t len)
{
	struct binding b = { .slot = slot, .token = -1 };
	int r = binding_store(cd, slot, -1, jwe);

	if (r < 0) {
		log_err("%s: cannot store the binding: %s", dev, store_error(r));
		return r;
	}
	r = add_keyslot(cd, slot, from, old, oldlen, key, len);
	if (r < 0) {
		log_add_error(dev, slot, r);
		if (binding_erase(cd, &b) < 0)
			log_warn("%s: luksmeta slot %d keeps an unused binding",
			         dev, slot);
		return r;
	}
	return slot;
}

/* LUKS1: a spare binding is recorded first (luks1_journal.h). */
static int
store_luks1_spare_or_binding(struct crypt_device *cd, const char *dev,
                             int slot, int spare_of, const char *jwe,
                             const char *old, size_t oldlen, const char *key,
                             size_t len)
{
	int r = spare_of >= 0 ? luks1_record_spare(cd, slot, spare_of, jwe) : 0;

	if (r < 0 && r != -ENOSPC) {
		log_err("%s: cannot record the spare binding: %s", dev,
		        store_error(r));
		return r;
	}
	r = store_luks1_binding(cd, dev, slot, -1, jwe, old, oldlen, key, len);
	if (r < 0 && spare_of >= 0)
		luks1_forget(cd, slot);
	return r;
}

/*
 * LUKS2: a token must name a keyslot that exists, so a pending token
 * carrying the JWE comes first, then the keyslot, then the pending token
 * becomes the binding's (one header write). Killed in between, the run
 * leaves a pending token by which the next command knows the keyslot it
 * added (luks_clear_debris()); no token ever names a keyslot its JWE does
 * not open.
 */
static int
store_luks2_binding(struct crypt_device *cd, const char *dev, int slot,
                    int token, int spare_of, const char *jwe,
                    const char *old, size_t oldlen, const char *key,
                    size_t len)
{
	int t, r;

	if (token >= 0 &&
	    crypt_token_status(cd, token, NULL) != CRYPT_TOKEN_INACTIVE) {
		log_err("%s: token %d is in use", dev, token);
		return -EEXIST;
	}
	t = binding_token_write(cd, token, TOKEN_PENDING, jwe, slot, spare_of);
	if (t < 0) {
		log_err("%s: cannot store the token: %s", dev, strerror(-t));
		return t;
	}
	r = add_keyslot(cd, slot, -1, old, oldlen, key, len);
	if (r < 0) {
		log_add_error(dev, slot, r);
		if (crypt_token_json_set(cd, t, NULL) < 0)
			log_warn("%s: token %d is left pending: the next command "
			         "removes it", dev, t);
		return r;
	}
	r = binding_token_write(cd, t, TOKEN_BINDING, jwe, slot, spare_of);
	if (r < 0) {
		log_err("%s: cannot store the token: %s", dev, strerror(-r));
		if (crypt_keyslot_destroy(cd, slot) < 0 ||
		    crypt_token_json_set(cd, t, NULL) < 0)
			log_warn("%s: keyslot %d and its pending token %d are left: "
			         "the next command removes them", dev, slot, t);
		return r;
	}
	return t;
}

int
luks_add_binding(struct crypt_device *cd, const char *dev, int slot,
                 int token, int spare_of, const char *old, size_t oldlen,
                 const char *pin, const json_t *cfg, bool trust, char **key,
                 size_t *keylen)
{
	char *newkey = NULL, *jwe = NULL;
	size_t len = 0;
	int r;

	r = new_key(cd, &newkey, &len);
	if (r < 0) {
		log_err("%s: cannot make a key: %s", dev, strerror(-r));
		return r;
	}
	r = pin_encrypt(pin, cfg, trust, (const uint8_t *)newkey, len, &jwe);
	if (r == 0 && (r = set_cheap_pbkdf(cd)) < 0)
		log_err("%s: cannot set PBKDF2: %s", dev, strerror(-r));
	if (r == 0 && is_luks2(cd))
		r = store_luks2_binding(cd, dev, slot, token, spare_of, jwe, old,
		                        oldlen, newkey, len);
	else if (r == 0)
		r = store_luks1_spare_or_binding(cd, dev, slot, spare_of, jwe,
		                                 old, oldlen, newkey, len);
	free(jwe);
	if (r >= 0 && key) {
		*key = newkey;
		*keylen = len;
	} else {
		free_secret(newkey, len);
	}
	return r;
}

/* LUKS1 keeps clevis's bindings in luksmeta's area: set it up once. */
static int
luks1_metadata_ready(struct crypt_device *cd, const struct luks_args *a)
{
	char question[512];
	int r = binding_luks1_test(cd);

	if (r != -ENOENT) {
		if (r < 0)
			log_err("%s: its luksmeta area is corrupt: nothing changed",
			        a->dev);
		return r;
	}
	if (!a->force && !a->yes) {
		snprintf(question, sizeof(question), "%s has no luksmeta area "
		         "for clevis's bindings yet. Data another program kept "
		         "in the gap after the LUKS1 header would be lost.\n"
		         "Do you wish to initialize %s? [yn] ", a->dev, a->dev);
		r = tty_ask_yes(question);
		if (r != 1) {
			log_err("%s: %s", a->dev, r < 0 ? "no terminal to confirm "
			        "setting up luksmeta on: use -f" :
			        "not confirmed: nothing changed");
			return -ECANCELED;
		}
	}
	r = binding_luks1_init(cd);
	if (r < 0)
		log_err("%s: cannot set up luksmeta: %s", a->dev, r == -ENOSPC ?
		        "no room after the LUKS1 header" : strerror(-r));
	return r;
}

static int
parse_config(const char *pin, const char *text, json_t **cfg)
{
	json_error_t err;

	*cfg = json_loads(text, 0, &err);
	if (json_is_object(*cfg))
		return 0;
	log_err("%s: the configuration is not a JSON object (%s)", pin,
	        *cfg ? "another JSON value" : err.text);
	json_decref(*cfg);
	*cfg = NULL;
	return -EINVAL;
}

int
luks_bind(struct crypt_device *cd, const struct luks_args *a)
{
	json_t *cfg;
	char *old = NULL;
	size_t oldlen = 0;
	int slot = a->slot, r;

	if (slot >= 0 && crypt_keyslot_status(cd, slot) != CRYPT_SLOT_INACTIVE) {
		log_err("%s: keyslot %d is in use", a->dev, slot);
		return -EEXIST;
	}
	if (a->token >= 0 &&
	    crypt_token_status(cd, a->token, NULL) != CRYPT_TOKEN_INACTIVE) {
		log_err("%s: token %d is in use", a->dev, a->token);
		return -EEXIST;
	}
	if (slot < 0 && (slot = luks_free_slot(cd, -1)) < 0) {
		log_err("%s: no free keyslot", a->dev);
		return slot;
	}
	r = parse_config(a->pin, a->config, &cfg);
	if (r < 0)
		return r;
	/* Before the passphrase, as clevis asks: luksmeta's area is set
	   up even when the passphrase turns out wrong. */
	if (!is_luks2(cd))
		r = luks1_metadata_ready(cd, a);
	if (r == 0)
		r = luks_existing_key(cd, a, &old, &oldlen);
	if (r == 0)
		r = luks_add_binding(cd, a->dev, slot, a->token, -1, old,
		                     oldlen, a->pin, cfg, a->yes, NULL, NULL);
	free_secret(old, oldlen);
	json_decref(cfg);
	return r < 0 ? r : 0;
}

/* The binding now in slot, read back from the header. */
static int
reread_binding(struct crypt_device *cd, int slot, struct binding *out)
{
	struct binding *all;
	const struct binding *b;
	size_t n;
	int r = bindings_load(cd, &all, &n);

	if (r < 0)
		return r;
	b = bindings_find(all, n, slot);
	if (b) {
		*out = *b;
		out->jwe = strdup(b->jwe);
	}
	bindings_free(all, n);
	if (!b)
		return -ENOENT;
	return out->jwe ? 0 : -ENOMEM;
}

/* Binding b, as stored, decrypts through its servers to key. */
static int
verify_binding(struct crypt_device *cd, const struct binding *b,
               const char *key, size_t len)
{
	uint8_t *pt = NULL;
	size_t n = 0;
	int r = pin_decrypt(b->jwe, strlen(b->jwe), &pt, &n);

	if (r == 0 && (n != len || !equal_const_time(pt, key, len)))
		r = -EBADMSG;
	if (r == 0 && crypt_activate_by_passphrase(cd, NULL, b->slot, key, len,
	                                           0) < 0)
		r = -EKEYREJECTED;
	free_secret(pt, n);
	return r;
}

/*
 * Gives b's keyslot the key of the verified spare binding in slot spare.
 * The keyslot is made again, never changed in place (killed during an
 * in-place change, a run leaves a token whose JWE no longer opens its
 * keyslot, or a keyslot half written). LUKS2: b's token becomes pending
 * for the new JWE, assigned to the keyslot (TOKEN_REMOVING); the keyslot
 * is destroyed, which leaves the token pending, unassigned; the keyslot
 * is added, unlocked through the spare; the token becomes its binding.
 * LUKS1: the binding and keyslot go (luks1_remove()), then the new
 * binding is stored and the keyslot comes back. Throughout, the spare
 * binding opens the volume.
 */
static int
replace_slot(struct crypt_device *cd, const char *dev,
             const struct binding *b, const struct binding *spare,
             const char *key, size_t len)
{
	int r = set_cheap_pbkdf(cd);

	if (r == 0 && !is_luks2(cd)) {
		r = luks1_remove(cd, b->slot);
		if (r >= 0)
			r = store_luks1_binding(cd, dev, b->slot, spare->slot,
			                        spare->jwe, key, len, key, len);
	} else if (r == 0) {
		r = binding_token_write(cd, b->token, TOKEN_REMOVING, spare->jwe,
		                        b->slot, -1);
		if (r >= 0)
			r = crypt_keyslot_destroy(cd, b->slot);
		if (r >= 0)
			r = add_keyslot(cd, b->slot, spare->slot, key, len, key,
			                len);
		if (r >= 0)
			r = binding_token_write(cd, b->token, TOKEN_BINDING,
			                        spare->jwe, b->slot, -1);
	}
	if (r >= 0 && crypt_activate_by_passphrase(cd, NULL, b->slot, key, len,
	                                           0) < 0)
		r = -EKEYREJECTED;
	return r < 0 ? r : 0;
}

/* Errors that mean the server answered but no trusted key vouched. */
static bool
untrusted(int r)
{
	return r == -EKEYREJECTED || r == -EPROTO || r == -EPERM || r == -ENOENT;
}

/*
 * The second binding regen and edit verify before they touch the slot.
 * Keys the binding trusted vouch for the server's new ones when they can;
 * otherwise the keys advertised now are trusted, as clevis's regen and
 * edit do (they pass -y), and the log says so.
 */
static int
add_spare(struct crypt_device *cd, const struct luks_args *a, int spare,
          const char *old, size_t oldlen, const char *pin, const json_t *cfg,
          bool trust, char **key, size_t *len)
{
	int r = luks_add_binding(cd, a->dev, spare, -1, a->slot, old, oldlen,
	                         pin, cfg, trust, key, len);

	if (r >= 0 || trust || !untrusted(r))
		return r;
	log_warn("slot %d: no key the binding trusted vouches for the servers' "
	         "keys now; trusting them as advertised, as clevis does", a->slot);
	return luks_add_binding(cd, a->dev, spare, -1, a->slot, old, oldlen,
	                        pin, cfg, true, key, len);
}

/*
 * Binds slot b again with pin and cfg: a spare binding verified end to end
 * through the servers, then the slot itself, then the spare removed.
 */
static int
rebind(struct crypt_device *cd, const struct luks_args *a,
       const struct binding *b, const char *pin, const json_t *cfg,
       bool trust)
{
	struct binding made = { .token = -1 };
	char *old = NULL, *key = NULL;
	size_t oldlen = 0, len = 0;
	int spare, r;

	if (luks_recover(cd, b, &old, &oldlen) < 0) {
		log_warn("slot %d: its binding no longer recovers its key: the "
		         "volume's passphrase is needed", b->slot);
		r = luks_existing_key(cd, a, &old, &oldlen);
		if (r < 0)
			return r;
	}
	spare = luks_free_slot(cd, b->slot);
	if (spare < 0) {
		log_err("%s: no free keyslot to verify the new binding in before "
		        "the old one is replaced", a->dev);
		free_secret(old, oldlen);
		return spare;
	}
	r = add_spare(cd, a, spare, old, oldlen, pin, cfg, trust, &key, &len);
	if (r >= 0)
		r = reread_binding(cd, spare, &made);
	if (r == 0 && (r = verify_binding(cd, &made, key, len)) < 0) {
		log_err("%s: the new binding does not unlock: the old one is "
		        "kept", a->dev);
		binding_remove(cd, &made);
	}
	/* Then the slot itself; until the end the spare binding opens it. */
	if (r == 0 && (r = replace_slot(cd, a->dev, b, &made, key, len)) < 0) {
		log_warn("%s: slot %d could not be updated (%s); the new binding "
		         "in slot %d opens the volume", a->dev, b->slot,
		         strerror(-r), spare);
		luks_clear_debris(cd, a->dev, true);
	}
	if (r == 0 && binding_remove(cd, &made) < 0)
		log_warn("%s: slot %d is bound again; the spare binding in slot "
		         "%d could not be removed: the next command removes it",
		         a->dev, b->slot, spare);
	else if (!is_luks2(cd))
		luks1_forget(cd, spare);
	free(made.jwe);
	free_secret(key, len);
	free_secret(old, oldlen);
	return r;
}

static bool
confirm_regen(const struct luks_args *a, const struct binding *b,
              const char *pin)
{
	char *text = NULL;
	int r;

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
		log_err(r < 0 ? "no terminal to confirm on: use -q" :
		        "not confirmed: nothing changed");
	return r == 1;
}

int
luks_regen(struct crypt_device *cd, const struct luks_args *a)
{
	struct binding *all = NULL;
	const struct binding *b = NULL;
	const char *pin = NULL;
	json_t *cfg = NULL;
	size_t n = 0;
	int r;

	r = luks_find_binding(cd, a, &all, &n, &b);
	if (r < 0)
		return r;
	if ((r = rebind_config(b->jwe, &pin, &cfg)) < 0)
		log_err("slot %d: %s", a->slot, r == -ENOTSUP ? "its pin is one "
		        "tether cannot bind" : "the binding's JWE is malformed");
	if (r == 0 && !confirm_regen(a, b, pin))
		r = -ECANCELED;
	if (r == 0)
		r = rebind(cd, a, b, pin, cfg, a->yes);
	json_decref(cfg);
	bindings_free(all, n);
	return r;
}

/* The configuration as `luks list` shows it: what edit starts from. */
static int
listed_config(const char *jwe, json_t **cfg)
{
	char *text = NULL, *open, *close;
	int r = describe_binding(jwe, &text);

	if (r < 0)
		return r;
	open = strchr(text, '\'');
	close = strrchr(text, '\'');
	r = -EBADMSG;
	if (open && close > open) {
		*close = '\0';
		*cfg = json_loads(open + 1, 0, NULL);
		r = json_is_object(*cfg) ? 0 : -EBADMSG;
	}
	free(text);
	return r;
}

#define EDIT_FILE_MAX (64 * 1024)
#define EDIT_TRIES 8

/* Runs $EDITOR (vi) on path, as clevis does: a program name, no shell. */
static int
run_editor(const char *path)
{
	const char *editor = getenv("EDITOR");
	int status;
	pid_t pid;

	if (!editor || !*editor)
		editor = "vi";
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp(editor, editor, path, (char *)NULL);
		fprintf(stderr, "tether: editor '%s': %s\n", editor,
		        strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 127 ? -ENOENT : 0;
}

/* The operator's new configuration, edited from cur in a private file. */
static int
edit_in_editor(const json_t *cur, json_t **out)
{
	char path[4096], *text = NULL;
	const char *dir = getenv("TMPDIR");
	int fd, r, tries = 0;

	snprintf(path, sizeof(path), "%s/tether-edit-XXXXXX",
	         dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	text = json_dumps(cur, JSON_INDENT(2) | JSON_SORT_KEYS);
	r = text ? write_fd(fd, text, strlen(text)) : -ENOMEM;
	free(text);
	close(fd);
	while (r == 0 && tries++ < EDIT_TRIES) {
		uint8_t *buf = NULL;
		size_t len = 0;

		r = run_editor(path);
		fd = r < 0 ? -1 : open(path, O_RDONLY | O_CLOEXEC);
		if (r == 0 && fd < 0)
			r = -errno;
		if (r == 0)
			r = read_fd(fd, EDIT_FILE_MAX, &buf, &len);
		if (fd >= 0)
			close(fd);
		if (r < 0)
			break;
		*out = json_loadb((const char *)buf, len, 0, NULL);
		free(buf);
		if (json_is_object(*out))
			break;
		json_decref(*out);
		*out = NULL;
		r = tty_ask_yes("Malformed configuration. Would you like to edit "
		                "again? [ynYN] ") == 1 ? 0 : -EINVAL;
	}
	unlink(path);
	if (r == 0 && !*out)
		r = -EINVAL;
	return r;
}

static int
new_edit_config(const struct luks_args *a, const char *pin,
                const json_t *cur, json_t **cfg)
{
	char *text;
	int r;

	if (a->edit_cfg)
		return parse_config(pin, a->edit_cfg, cfg);
	if (!isatty(STDIN_FILENO)) {
		log_err("%s: no terminal to edit on: give the new configuration "
		        "with -c", a->dev);
		return -ENXIO;
	}
	r = edit_in_editor(cur, cfg);
	if (r < 0) {
		log_err("%s: the configuration was not edited: %s", a->dev,
		        r == -EINVAL ? "not a JSON object" : strerror(-r));
		return r;
	}
	text = json_dumps(*cfg, JSON_INDENT(2) | JSON_SORT_KEYS);
	printf("Pin: %s\nNew config:\n%s\n", pin, text ? text : "");
	fflush(stdout);
	free(text);
	if (tty_ask_yes("Would you like to proceed with the updated "
	                "configuration? [ynYN] ") != 1) {
		json_decref(*cfg);
		*cfg = NULL;
		return -ECANCELED;
	}
	return 0;
}

int
luks_edit(struct crypt_device *cd, const struct luks_args *a)
{
	struct binding *all = NULL;
	const struct binding *b = NULL;
	const char *pin = NULL;
	json_t *cur = NULL, *cfg = NULL, *full = NULL;
	size_t n = 0;
	int r;

	r = luks_find_binding(cd, a, &all, &n, &b);
	if (r < 0)
		return r;
	if ((r = rebind_config(b->jwe, &pin, &full)) < 0 ||
	    (r = listed_config(b->jwe, &cur)) < 0)
		log_err("slot %d: %s", a->slot, r == -ENOTSUP ? "its pin is one "
		        "tether cannot bind" : "the binding's JWE is malformed");
	if (r == 0)
		r = new_edit_config(a, pin, cur, &cfg);
	if (r == 0 && json_equal(cfg, cur) && !a->force) {
		log_warn("slot %d: no changes to the configuration: nothing done "
		         "(-f binds again anyway)", a->slot);
		r = -EALREADY;
	}
	if (r == 0) {
		printf("Updating binding...\n");
		fflush(stdout);
		/* clevis binds an edited configuration with -y. */
		r = rebind(cd, a, b, pin, cfg, true);
	}
	if (r == 0)
		log_msg("%s: slot %d: binding edited", a->dev, a->slot);
	json_decref(full);
	json_decref(cfg);
	json_decref(cur);
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

/* What `luks regen -q -d DEV -s SLOT` does, as report offers it. */
static int
regen_quietly(struct crypt_device *cd, const struct luks_args *a)
{
	struct luks_args q = { .dev = a->dev, .slot = a->slot, .token = -1,
	                       .existing = -1, .test_slot = -1, .quiet = true };

	return luks_regen(cd, &q);
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

	r = rep.rotated ? luks_find_binding(cd, a, &all, &n, &b) : -ENOMEM;
	if (r == 0) {
		r = describe_tang_pins(b->jwe, report_pin, &rep);
		bindings_free(all, n);
	}
	if (r == 0 && rep.failed) {
		log_err("slot %d: unable to verify whether there are rotated keys",
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
			return regen_quietly(cd, a);
	}
	if (a->regen)
		return regen_quietly(cd, a);
	return -ESTALE;
}
