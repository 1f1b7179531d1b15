/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_LUKS_H
#define TETHER_LUKS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <libcryptsetup.h>

#include "client/binding.h"

/* The options of `tether luks SUBCOMMAND`, clevis luks's letters. */
struct luks_args {
	const char *dev;       /* -d */
	int slot;              /* -s, or -1 */
	int token;             /* bind -t, or -1 */
	int existing;          /* bind -e: a token that opens the volume, or -1 */
	int test_slot;         /* unlock -t: test this slot only, or -1 */
	const char *keyfile;   /* -k, "-" for one line of stdin */
	const char *edit_cfg;  /* edit -c */
	const char *name;      /* -n */
	bool yes;              /* -y: trust the server's keys unseen */
	bool force;            /* -f: no confirmation (unbind), no luksmeta
	                          question (bind), even if unchanged (edit) */
	bool quiet;            /* -q: no confirmation */
	bool regen;            /* -r */
	bool test;             /* --test-passphrase */
	const char *pin;       /* bind: PIN */
	const char *config;    /* bind: CONFIG */
};

/* Opens a LUKS1 or LUKS2 device or image; logs why not. */
int luks_open(const char *dev, struct crypt_device **cd);

/*
 * Recovers a binding's passphrase through its pin and checks that it
 * opens the binding's own keyslot, and no other (cheap PBKDF2 there;
 * trying all slots would pay the passphrase slot's Argon2 first).
 * Logs failures. Free *pass with free_secret(*pass, *len).
 */
int luks_recover(struct crypt_device *cd, const struct binding *b,
                 char **pass, size_t *len);

/*
 * Loads the volume's bindings and finds the one of a->slot; logs, naming
 * the device, when they cannot be read or the slot has none. On success
 * free *all with bindings_free(*all, *n).
 */
int luks_find_binding(struct crypt_device *cd, const struct luks_args *a,
                      struct binding **all, size_t *n,
                      const struct binding **b);

/* The first keyslot that is not in use, other than except; -ENOSPC. */
int luks_free_slot(struct crypt_device *cd, int except);

/*
 * Adds a binding: a random key as strong as the volume key, encrypted
 * with pin and cfg, in keyslot slot (unlocked with old) and a clevis
 * token (token, or any free one); spare_of >= 0 marks it as regen's spare
 * for that slot. On failure nothing is left behind; killed, it leaves what
 * luks_clear_debris() removes. Returns the token id (LUKS1: the slot)
 * and, if key is not NULL, the new passphrase.
 */
int luks_add_binding(struct crypt_device *cd, const char *dev, int slot,
                     int token, int spare_of, const char *old, size_t oldlen,
                     const char *pin, const json_t *cfg, bool trust,
                     char **key, size_t *keylen);

/*
 * The passphrase of the volume from -k, -e, or as clevis reads it: one
 * line of standard input, or from the terminal with echo off when
 * standard input is one. It opens the volume (any keyslot); on failure
 * the volume's bindings are tried, as clevis does. Logs failures.
 */
int luks_existing_key(struct crypt_device *cd, const struct luks_args *a,
                      char **key, size_t *len);

/*
 * What interrupted binds, unbinds, regens and edits left in the header
 * (luks_debris.c), logged on stderr; cleared too when clear is true.
 * Returns how many leftovers remain, or -errno.
 */
int luks_clear_debris(struct crypt_device *cd, const char *dev, bool clear);

int luks_bind(struct crypt_device *cd, const struct luks_args *a);
int luks_edit(struct crypt_device *cd, const struct luks_args *a);
int luks_regen(struct crypt_device *cd, const struct luks_args *a);
int luks_report(struct crypt_device *cd, const struct luks_args *a);

/* tether luks SUBCOMMAND ... */
int cmd_luks(int argc, char **argv);

#endif
