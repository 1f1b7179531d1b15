/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tether luks ...: clevis luks's commands, through libcryptsetup's API. */
#include "client/luks.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/askpass.h"
#include "client/describe.h"
#include "client/heartbeat.h"
#include "client/pin.h"
#include "client/tty.h"
#include "common/log.h"
#include "common/util.h"

/* libcryptsetup's own messages repeat ours in other words: keep them out. */
static void
quiet_log(int level, const char *msg, void *usrptr)
{
	(void)level;
	(void)msg;
	(void)usrptr;
}

int
luks_open(const char *dev, struct crypt_device **cd)
{
	struct stat st;
	int r;

	/* libcryptsetup says "Block device required" for a missing file. */
	if (stat(dev, &st) < 0) {
		r = -errno;
		log_err("%s: %s", dev, r == -ENOENT ? "no such file or device" :
		        strerror(-r));
		return r;
	}
	crypt_set_log_callback(NULL, quiet_log, NULL);
	r = crypt_init(cd, dev);
	if (r < 0) {
		log_err("%s: %s", dev, strerror(-r));
		return r;
	}
	crypt_set_log_callback(*cd, quiet_log, NULL);
	r = crypt_load(*cd, CRYPT_LUKS, NULL);
	if (r < 0) {
		log_err("%s: not a LUKS device (%s)", dev, strerror(-r));
		crypt_free(*cd);
		*cd = NULL;
	}
	return r;
}

int
luks_recover(struct crypt_device *cd, const struct binding *b, char **pass,
             size_t *len)
{
	uint8_t *pt = NULL;
	size_t n = 0;
	int r;

	r = pin_decrypt(b->jwe, strlen(b->jwe), &pt, &n);
	if (r < 0) {
		log_err("slot %d: the binding's key could not be recovered",
		        b->slot);
		return r;
	}
	r = crypt_activate_by_passphrase(cd, NULL, b->slot, (const char *)pt,
	                                 n, 0);
	if (r < 0) {
		log_err("slot %d: the recovered key does not open its keyslot",
		        b->slot);
		free_secret(pt, n);
		return -EKEYREJECTED;
	}
	*pass = (char *)pt;
	*len = n;
	return 0;
}

int
luks_free_slot(struct crypt_device *cd, int except)
{
	int max = crypt_keyslot_max(crypt_get_type(cd));

	for (int s = 0; s < max; s++)
		if (s != except && crypt_keyslot_status(cd, s) == CRYPT_SLOT_INACTIVE)
			return s;
	return -ENOSPC;
}

/* The volume's bindings, or a logged error naming the device. */
static int
load_bindings(struct crypt_device *cd, const struct luks_args *a,
              struct binding **all, size_t *n)
{
	int r = bindings_load(cd, all, n);

	if (r < 0)
		log_err("%s: cannot read its bindings: %s", a->dev, strerror(-r));
	return r;
}

int
luks_find_binding(struct crypt_device *cd, const struct luks_args *a,
             struct binding **all, size_t *n, const struct binding **b)
{
	int r = load_bindings(cd, a, all, n);

	if (r < 0)
		return r;
	*b = bindings_find(*all, *n, a->slot);
	if (!*b) {
		log_err("%s: no clevis binding in slot %d", a->dev, a->slot);
		bindings_free(*all, *n);
		return -ENOENT;
	}
	return 0;
}

static int
luks_list(struct crypt_device *cd, const struct luks_args *a)
{
	struct binding *all;
	size_t n;
	int r = load_bindings(cd, a, &all, &n), found = 0;

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		char *text;

		if (a->slot >= 0 && all[i].slot != a->slot)
			continue;
		found++;
		if (describe_binding(all[i].jwe, &text) < 0) {
			log_err("slot %d: the binding's JWE is malformed",
			        all[i].slot);
			r = -EBADMSG;
			continue;
		}
		printf("%d: %s\n", all[i].slot, text);
		free(text);
	}
	bindings_free(all, n);
	if (a->slot >= 0 && !found) {
		log_err("%s: no clevis binding in slot %d", a->dev, a->slot);
		r = -ENOENT;
	}
	if (fflush(stdout) != 0)
		r = -EIO;
	return r;
}

/*
 * What each server a binding names is trusted through: "pin" or "ca" when
 * the binding carries its trust anchor, "system" when https relies on the
 * system CA store, "none" for plain http. The initramfs hook asks this to
 * copy the CA bundle only for bindings that need it.
 */
static int
print_trust(const json_t *cfg, void *arg)
{
	const char *url = json_string_value(json_object_get(cfg, "url"));
	const char *anchor = "none";
	char shown[1024];

	if (!url)
		return -EBADMSG;
	if (json_object_get(cfg, "pin"))
		anchor = "pin";
	else if (json_object_get(cfg, "ca"))
		anchor = "ca";
	else if (strncasecmp(url, "https://", 8) == 0)
		anchor = "system";
	/* Whoever can write the disk wrote the URL: no terminal escapes,
	   no line of its own in what the initramfs hooks read. */
	log_escape(shown, sizeof(shown), url, strlen(url));
	printf("%d: %s %s\n", *(const int *)arg, shown, anchor);
	return 0;
}

static int
luks_trust(struct crypt_device *cd, const struct luks_args *a)
{
	struct binding *all;
	size_t n;
	int r = load_bindings(cd, a, &all, &n);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (a->slot >= 0 && all[i].slot != a->slot)
			continue;
		if (describe_tang_configs(all[i].jwe, print_trust,
		                          &all[i].slot) < 0) {
			log_err("slot %d: the binding's JWE is malformed",
			        all[i].slot);
			r = -EBADMSG;
		}
	}
	bindings_free(all, n);
	if (fflush(stdout) != 0)
		r = -EIO;
	return r;
}

static int
add_config(const json_t *cfg, void *arg)
{
	return json_array_append_new(arg, json_deep_copy(cfg)) < 0 ? -ENOMEM : 0;
}

/* tether heartbeat -d DEV: every tang server the bindings name. */
static int
luks_heartbeat(struct crypt_device *cd, const struct luks_args *a)
{
	struct binding *all;
	json_t *configs = json_array();
	size_t n;
	int r;

	if (!configs)
		return -ENOMEM;
	r = load_bindings(cd, a, &all, &n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (describe_tang_configs(all[i].jwe, add_config, configs) < 0)
			log_warn("slot %d: the binding's JWE is malformed",
			         all[i].slot);
	}
	if (r == 0) {
		bindings_free(all, n);
		r = heartbeat_servers(configs);
	}
	json_decref(configs);
	return r;
}

static int
luks_pass(struct crypt_device *cd, const struct luks_args *a)
{
	struct binding *all;
	const struct binding *b;
	char *pass;
	size_t n, len;
	int r = luks_find_binding(cd, a, &all, &n, &b);

	if (r < 0)
		return r;
	r = luks_recover(cd, b, &pass, &len);
	bindings_free(all, n);
	if (r < 0)
		return r;
	if (fwrite(pass, 1, len, stdout) != len || fflush(stdout) != 0)
		r = -EIO;
	free_secret(pass, len);
	return r;
}

/* unlock -t SLOT: the binding of SLOT recovers a key that opens it. */
static int
test_slot(struct crypt_device *cd, const struct luks_args *a)
{
	struct luks_args one = *a;
	struct binding *all;
	const struct binding *b;
	char *pass;
	size_t n, len;
	int r;

	one.slot = a->test_slot;
	r = luks_find_binding(cd, &one, &all, &n, &b);
	if (r < 0)
		return r;
	r = luks_recover(cd, b, &pass, &len);
	bindings_free(all, n);
	if (r < 0) {
		log_err("test for token slot %d on device %s failed",
		        a->test_slot, a->dev);
		return r;
	}
	free_secret(pass, len);
	return 0;
}

/*
 * The key opened its keyslot, but the mapping could not be made: say why
 * in the words an operator can act on.
 */
static void
activation_failed(const struct luks_args *a, const char *name, int r)
{
	if (access("/dev/mapper/control", R_OK | W_OK) < 0 || r == -ENOTSUP)
		log_err("%s: the key is right, but device-mapper is not available "
		        "(is dm_mod loaded, and /dev/mapper/control there?); "
		        "--test-passphrase checks without it", a->dev);
	else if (r == -EEXIST || r == -EBUSY)
		log_err("%s: the key is right, but '%s' is already in use",
		        a->dev, name);
	else
		log_err("%s: the key is right, but the mapping '%s' could not be "
		        "made: %s", a->dev, name, strerror(-r));
}

/* Tries each binding against its own keyslot; the first that opens wins. */
static int
luks_unlock(struct crypt_device *cd, const struct luks_args *a)
{
	char uuid_name[64];
	const char *name = a->name;
	struct binding *all;
	bool key_found = false;
	size_t n;
	int r;

	if (a->test_slot >= 0)
		return test_slot(cd, a);
	r = load_bindings(cd, a, &all, &n);
	if (r < 0)
		return r;
	snprintf(uuid_name, sizeof(uuid_name), "luks-%s", crypt_get_uuid(cd));
	if (!name)
		name = uuid_name;
	r = -ENOENT;
	for (size_t i = 0; i < n && r < 0; i++) {
		uint8_t *pt = NULL;
		size_t len = 0;
		int slot = all[i].slot;

		if (pin_decrypt(all[i].jwe, strlen(all[i].jwe), &pt, &len) < 0) {
			log_warn("slot %d: the binding's key could not be recovered",
			         slot);
			continue;
		}
		r = crypt_activate_by_passphrase(cd, a->test ? NULL : name, slot,
		                                 (const char *)pt, len, 0);
		/* Without device-mapper libcryptsetup fails before it tries
		   the key: a check with no mapping tells the two apart. */
		if (r < 0 && r != -EPERM && !a->test &&
		    crypt_activate_by_passphrase(cd, NULL, slot,
		                                 (const char *)pt, len, 0) >= 0) {
			activation_failed(a, name, r);
			key_found = true;
			free_secret(pt, len);
			break;
		}
		if (r < 0)
			log_warn("slot %d: %s", slot, r == -EPERM ?
			         "the recovered key does not open its keyslot" :
			         strerror(-r));
		free_secret(pt, len);
	}
	if (r < 0 && !key_found)
		log_err("%s: %s", a->dev, n == 0 ? "no clevis bindings" :
		        "no binding could unlock it");
	bindings_free(all, n);
	return r < 0 ? r : 0;
}

static int
luks_unbind(struct crypt_device *cd, const struct luks_args *a)
{
	struct binding *all;
	const struct binding *b;
	char question[512];
	size_t n;
	int r;

	r = luks_find_binding(cd, a, &all, &n, &b);
	if (r < 0)
		return r;
	if (crypt_keyslot_status(cd, b->slot) == CRYPT_SLOT_ACTIVE_LAST) {
		log_err("%s: slot %d is the last keyslot: removing it would lose "
		        "the volume", a->dev, b->slot);
		r = -EPERM;
	} else if (!a->force) {
		snprintf(question, sizeof(question), "Do you wish to erase LUKS "
		         "slot %d on %s? [ynYN] ", b->slot, a->dev);
		r = tty_ask_yes(question);
		if (r != 1)
			log_err(r < 0 ? "no terminal to confirm on: use -f" :
			        "not confirmed: nothing changed");
		r = r == 1 ? 0 : -ECANCELED;
	}
	if (r == 0 && (r = binding_remove(cd, b)) < 0)
		log_err("%s: cannot remove the binding of slot %d: %s; what is "
		        "left the next command removes", a->dev, b->slot,
		        strerror(-r));
	bindings_free(all, n);
	return r < 0 ? r : 0;
}

static const struct {
	const char *name;
	const char *opts;     /* getopt letters */
	const char *usage;
	const char *help;     /* one line per option */
	bool needs_slot;
	int (*run)(struct crypt_device *cd, const struct luks_args *a);
	/* What an interrupted command left: cleared first by the commands
	   that write the header (and report, which offers regen), shown by
	   list; the others read and leave it. */
	enum { DEBRIS_KEEP, DEBRIS_SHOW, DEBRIS_CLEAR } debris;
} subcommands[] = {
	{ "bind", "d:s:t:k:e:yf",
	  "-d DEV [-s SLOT] [-t TOKEN] [-k KEYFILE|-] [-e TOKEN] [-y] [-f] "
	  "PIN CONFIG",
	  "  -d DEV      the LUKS1 or LUKS2 device (or image file) to bind\n"
	  "  -s SLOT     the keyslot for the new key (default: the first free)\n"
	  "  -t TOKEN    LUKS2: the token id for the binding (default: any free)\n"
	  "  -k KEYFILE  the existing passphrase is KEYFILE's bytes;\n"
	  "  -k -        it is one line of standard input\n"
	  "  -e TOKEN    LUKS2: the existing passphrase comes from token TOKEN\n"
	  "              (luks2-keyring: the kernel keyring; clevis: its pin)\n"
	  "  -y          trust the server's keys without asking\n"
	  "  -f          LUKS1: set up luksmeta without asking\n"
	  "Without -k or -e the passphrase is read as clevis reads it: one line\n"
	  "of standard input, or from the terminal when standard input is one.\n",
	  false, luks_bind, DEBRIS_CLEAR },
	{ "unbind", "d:s:f", "-d DEV -s SLOT [-f]",
	  "  -d DEV   the bound device\n"
	  "  -s SLOT  the keyslot whose binding and key are removed\n"
	  "  -f       do not ask for confirmation\n",
	  true, luks_unbind, DEBRIS_CLEAR },
	{ "list", "d:s:", "-d DEV [-s SLOT]",
	  "  -d DEV   the device whose bindings are listed, as clevis lists them\n"
	  "  -s SLOT  only the binding of this keyslot\n",
	  false, luks_list, DEBRIS_SHOW },
	{ "pass", "d:s:", "-d DEV -s SLOT",
	  "  -d DEV   the bound device\n"
	  "  -s SLOT  print the passphrase the binding of SLOT recovers\n",
	  true, luks_pass, DEBRIS_KEEP },
	{ "trust", "d:s:", "-d DEV [-s SLOT]",
	  "  -d DEV   the bound device: print each server's URL and what it is\n"
	  "           trusted through (pin, ca, system CA store, none)\n"
	  "  -s SLOT  only the binding of this keyslot\n",
	  false, luks_trust, DEBRIS_KEEP },
	{ "heartbeat", "d:", "-d DEV",
	  "  -d DEV   the bound device: tell each server its bindings name, with\n"
	  "           a client credential, that this machine is at home\n"
	  "           (tether heartbeat -d DEV; see tether(1))\n",
	  false, luks_heartbeat, DEBRIS_KEEP },
	{ "unlock", "d:n:t:T", "-d DEV [-n NAME] [-t SLOT] [--test-passphrase]",
	  "  -d DEV             the device to open through its bindings\n"
	  "  -n NAME            the mapping's name (default: luks-UUID)\n"
	  "  -t SLOT            test the binding of SLOT without unlocking\n"
	  "  --test-passphrase  test that a binding opens it, without unlocking\n",
	  false, luks_unlock, DEBRIS_KEEP },
	{ "edit", "d:s:c:f", "-d DEV -s SLOT [-c CONFIG] [-f]",
	  "  -d DEV     the bound device\n"
	  "  -s SLOT    the keyslot whose binding is changed\n"
	  "  -c CONFIG  the pin's new configuration (default: edit the current\n"
	  "             one with $EDITOR)\n"
	  "  -f         bind again even if the configuration is unchanged\n"
	  "The new binding is verified through its servers before it replaces\n"
	  "the old one.\n",
	  true, luks_edit, DEBRIS_CLEAR },
	{ "regen", "d:s:qyk:", "-d DEV -s SLOT [-q] [-y] [-k KEYFILE|-]",
	  "  -d DEV      the bound device\n"
	  "  -s SLOT     the keyslot to bind again to the servers' current keys\n"
	  "  -q          do not ask for confirmation\n"
	  "  -y          trust the servers' keys without checking them against\n"
	  "              the keys the binding trusted\n"
	  "  -k KEYFILE  when the old binding no longer recovers its key, the\n"
	  "              volume's passphrase (default: asked, or one line of\n"
	  "              standard input, as clevis does)\n",
	  true, luks_regen, DEBRIS_CLEAR },
	{ "report", "d:s:qr", "-d DEV -s SLOT [-q] [-r]",
	  "  -d DEV   the bound device\n"
	  "  -s SLOT  the binding to check for keys the servers rotated away\n"
	  "  -q       do not offer to regenerate\n"
	  "  -r       regenerate if keys were rotated\n",
	  true, luks_report, DEBRIS_CLEAR },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: tether luks SUBCOMMAND OPTIONS\n\n");
	for (size_t i = 0; i < ARRAY_SIZE(subcommands); i++)
		fprintf(f, "  tether luks %s %s\n", subcommands[i].name,
		        subcommands[i].usage);
	fprintf(f, "  tether luks askpass\n");
	fprintf(f, "\nBindings are clevis's: either tool reads what the other "
	        "wrote.\n'tether luks SUBCOMMAND --help' describes its options; "
	        "see tether(1).\n");
}

static int
number(const char *what, const char *s, int max, int *out)
{
	unsigned long v;

	if (parse_ulong(s, 0, (unsigned long)max - 1, &v) < 0) {
		log_err("%s must be a number from 0 to %d", what, max - 1);
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

static int
parse_option(const char *cmd, int c, struct luks_args *a)
{
	int slots = crypt_keyslot_max(CRYPT_LUKS2);
	int tokens = crypt_token_max(CRYPT_LUKS2);

	switch (c) {
	case 'd': a->dev = optarg; return 0;
	case 's': return number("the slot (-s)", optarg, slots, &a->slot);
	case 't':
		/* clevis's letter: a token for bind, a slot for unlock. */
		if (strcmp(cmd, "unlock") == 0)
			return number("the slot (-t)", optarg, slots,
			              &a->test_slot);
		return number("the token (-t)", optarg, tokens, &a->token);
	case 'e': return number("the token (-e)", optarg, tokens,
	                        &a->existing);
	case 'k': a->keyfile = optarg; return 0;
	case 'c': a->edit_cfg = optarg; return 0;
	case 'n': a->name = optarg; return 0;
	case 'y': a->yes = true; return 0;
	case 'f': a->force = true; return 0;
	case 'q': a->quiet = true; return 0;
	case 'r': a->regen = true; return 0;
	case 'T': a->test = true; return 0;
	default: return -EINVAL;
	}
}

static int
parse_args(size_t which, int argc, char **argv, struct luks_args *a)
{
	static const struct option longopts[] = {
		{ "test-passphrase", no_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = subcommands[which].name;
	bool bind = strcmp(cmd, "bind") == 0;
	char opts[32];
	int c;

	*a = (struct luks_args){ .slot = -1, .token = -1, .existing = -1,
	                         .test_slot = -1 };
	snprintf(opts, sizeof(opts), "+:%s", subcommands[which].opts);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, opts, longopts, NULL)) != -1) {
		if (c == '?' || c == ':' || !strchr(subcommands[which].opts, c) ||
		    parse_option(cmd, c, a) < 0) {
			if (c == '?' || c == ':')
				log_err("luks %s: %s option '%s'", cmd, c == ':' ?
				        "a value is missing for the" : "unknown",
				        argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (bind && argc - optind == 2) {
		a->pin = argv[optind];
		a->config = argv[optind + 1];
	} else if (argc != optind) {
		log_err("luks %s: %s", cmd, bind ?
		        "PIN and CONFIG are needed, after the options" :
		        "unexpected arguments");
		return -EINVAL;
	}
	if (!a->dev || (subcommands[which].needs_slot && a->slot < 0)) {
		log_err("luks %s: %s", cmd, !a->dev ?
		        "no device given (-d)" : "no slot given (-s)");
		return -EINVAL;
	}
	if (a->keyfile && a->existing >= 0) {
		log_err("luks %s: -k and -e both name the passphrase: give one",
		        cmd);
		return -EINVAL;
	}
	return 0;
}

/* A slot beyond what the volume's LUKS version has. */
static int
check_slot(struct crypt_device *cd, const struct luks_args *a)
{
	int max = crypt_keyslot_max(crypt_get_type(cd));
	int s = a->slot >= 0 ? a->slot : a->test_slot;

	if (s >= max) {
		log_err("%s: a %s keyslot is a number from 0 to %d", a->dev,
		        crypt_get_type(cd), max - 1);
		return -EINVAL;
	}
	if ((a->token >= 0 || a->existing >= 0) &&
	    strcmp(crypt_get_type(cd), CRYPT_LUKS2) != 0) {
		log_err("%s: a LUKS1 volume has no tokens (-%c)", a->dev,
		        a->token >= 0 ? 't' : 'e');
		return -EINVAL;
	}
	return 0;
}

int
cmd_luks(int argc, char **argv)
{
	struct crypt_device *cd;
	struct luks_args a;
	size_t i;
	int r;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	/* No device: it serves every request systemd makes. */
	if (strcmp(argv[1], "askpass") == 0) {
		if (argc > 2 && (strcmp(argv[2], "--help") == 0 ||
		                 strcmp(argv[2], "-h") == 0)) {
			printf("usage: tether luks askpass\n\n"
			       "Answers systemd's passphrase requests (the "
			       "ask-password protocol) of volumes with\nclevis "
			       "bindings with the keys they recover; tries again "
			       "after 1 s, doubling\nto %d s, and at once when "
			       "the network changes. For a systemd initramfs.\n",
			       ASKPASS_BACKOFF_MAX);
			return 0;
		}
		if (argc > 2) {
			log_err("luks askpass: unexpected arguments");
			return 2;
		}
		return askpass_run() < 0 ? 1 : 0;
	}
	for (i = 0; i < ARRAY_SIZE(subcommands); i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			break;
	if (i == ARRAY_SIZE(subcommands)) {
		log_err("luks: unknown subcommand '%s'", argv[1]);
		usage(stderr);
		return 2;
	}
	for (int j = 2; j < argc; j++) {
		if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
			printf("usage: tether luks %s %s\n\n%s",
			       subcommands[i].name, subcommands[i].usage,
			       subcommands[i].help);
			return 0;
		}
	}
	if (parse_args(i, argc - 1, argv + 1, &a) < 0) {
		log_err("usage: tether luks %s %s", subcommands[i].name,
		        subcommands[i].usage);
		return 2;
	}
	if (luks_open(a.dev, &cd) < 0)
		return 1;
	r = check_slot(cd, &a);
	if (r == 0 && subcommands[i].debris != DEBRIS_KEEP)
		luks_clear_debris(cd, a.dev,
		                  subcommands[i].debris == DEBRIS_CLEAR);
	if (r == 0)
		r = subcommands[i].run(cd, &a);
	crypt_free(cd);
	return r < 0 ? 1 : 0;
}
