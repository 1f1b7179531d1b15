/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The passphrase a command that writes a binding proves the volume with:
 * from a key file, from a token (-e), or read as clevis reads it.
 */
#include "client/luks.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "client/tty.h"
#include "common/log.h"
#include "common/util.h"

/* cryptsetup's own bound on a key file read as a passphrase. */
#define KEYFILE_MAX (8 * 1024 * 1024)
/* A typed or piped passphrase: cryptsetup's limit for interactive ones. */
#define PASSPHRASE_MAX 512
#define KEY_DESC_MAX 256

static int
read_keyfile(const char *path, char **key, size_t *len)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	int fd, r;

	if (strcmp(path, "-") == 0)
		return stdin_read_line(PASSPHRASE_MAX, key, len);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = read_fd(fd, KEYFILE_MAX, &buf, &n);
	close(fd);
	if (r < 0)
		return r;
	*key = (char *)buf;
	*len = n;
	return 0;
}

/*
 * A luks2-keyring token names a "user" key in the kernel keyring, as
 * cryptsetup's built-in handler reads it.
 */
static int
keyring_passphrase(const char *desc, char **key, size_t *len)
{
	long id, n, got;
	char *buf;

	id = syscall(SYS_request_key, "user", desc, NULL, 0);
	if (id < 0)
		return -errno;
	n = syscall(SYS_keyctl, KEYCTL_READ, id, NULL, 0);
	if (n < 0)
		return -errno;
	if (n > PASSPHRASE_MAX * 16)
		return -EFBIG;
	buf = malloc((size_t)n + 1);
	if (!buf)
		return -ENOMEM;
	got = syscall(SYS_keyctl, KEYCTL_READ, id, buf, n);
	if (got != n) {
		free_secret(buf, (size_t)n + 1);
		return got < 0 ? -errno : -EAGAIN;
	}
	buf[n] = '\0';
	*key = buf;
	*len = (size_t)n;
	return 0;
}

/* The passphrase token t holds or recovers: luks2-keyring or clevis. */
static int
token_passphrase(struct crypt_device *cd, const struct luks_args *a,
                 char **key, size_t *len)
{
	const char *type = NULL, *json = NULL, *desc;
	json_t *tok;
	int r;

	if (crypt_token_status(cd, a->existing, &type) == CRYPT_TOKEN_INACTIVE ||
	    !type || crypt_token_json_get(cd, a->existing, &json) < 0) {
		log_err("%s: no token %d", a->dev, a->existing);
		return -ENOENT;
	}
	if (strcmp(type, CLEVIS_TOKEN_TYPE) == 0) {
		struct binding *all;
		size_t n;
		int slot;
		char *jwe = NULL;

		r = binding_from_token(json, &slot, &jwe);
		free(jwe);
		if (r == 0 && (r = bindings_load(cd, &all, &n)) == 0) {
			const struct binding *b = bindings_find(all, n, slot);

			r = b ? luks_recover(cd, b, key, len) : -ENOENT;
			bindings_free(all, n);
		}
		return r;
	}
	if (strcmp(type, "luks2-keyring") != 0) {
		log_err("%s: token %d is of type '%s': -e takes a luks2-keyring "
		        "or clevis token", a->dev, a->existing, type);
		return -ENOTSUP;
	}
	tok = json_loads(json, 0, NULL);
	desc = json_string_value(json_object_get(tok, "key_description"));
	r = desc && strlen(desc) < KEY_DESC_MAX ?
	    keyring_passphrase(desc, key, len) : -EBADMSG;
	if (r < 0)
		log_err("%s: token %d: %s", a->dev, a->existing, r == -EBADMSG ?
		        "no key description" : r == -ENOKEY || r == -ENOENT ?
		        "its key is not in the kernel keyring" : strerror(-r));
	json_decref(tok);
	return r;
}

static bool
opens_volume(struct crypt_device *cd, const char *key, size_t len)
{
	return crypt_activate_by_passphrase(cd, NULL, CRYPT_ANY_SLOT, key, len,
	                                    0) >= 0;
}

/* The first binding whose key opens its keyslot. */
static int
binding_key(struct crypt_device *cd, char **key, size_t *len)
{
	struct binding *all;
	size_t n = 0;
	int r = bindings_load(cd, &all, &n);

	if (r < 0)
		return r;
	r = -ENOENT;
	for (size_t i = 0; i < n && r < 0; i++)
		r = luks_recover(cd, &all[i], key, len);
	bindings_free(all, n);
	return r;
}

/* The passphrase the operator gave, by whichever means; not yet checked. */
static int
given_key(struct crypt_device *cd, const struct luks_args *a, char **key,
          size_t *len)
{
	int r;

	if (a->keyfile) {
		r = read_keyfile(a->keyfile, key, len);
		if (r < 0)
			log_err("%s: %s", strcmp(a->keyfile, "-") == 0 ?
			        "standard input" : a->keyfile, strerror(-r));
		return r;
	}
	if (a->existing >= 0)
		return token_passphrase(cd, a, key, len);
	r = passphrase_read("Enter existing LUKS password: ", PASSPHRASE_MAX,
	                    key, len);
	if (r < 0)
		log_err("%s: no passphrase: give -k KEYFILE (or -k - for stdin) "
		        "or run on a terminal", a->dev);
	return r;
}

int
luks_existing_key(struct crypt_device *cd, const struct luks_args *a,
                  char **key, size_t *len)
{
	int r;

	/* On a terminal, a binding that still works spares the typing. */
	if (!a->keyfile && a->existing < 0 && isatty(STDIN_FILENO) &&
	    binding_key(cd, key, len) == 0)
		return 0;
	r = given_key(cd, a, key, len);
	if (r == 0 && opens_volume(cd, *key, *len))
		return 0;
	if (r == 0) {
		free_secret(*key, *len);
		*key = NULL;
	}
	/* As clevis does: a wrong line read, then the bindings. A key file
	   or token named on the command line is what the operator meant. */
	if (!a->keyfile && a->existing < 0 && binding_key(cd, key, len) == 0)
		return 0;
	if (r == 0) {
		log_err("%s: the passphrase does not open the volume", a->dev);
		r = -EPERM;
	}
	return r;
}
