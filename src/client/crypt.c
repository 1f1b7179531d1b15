/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tether encrypt PIN CONFIG [-y] and tether decrypt: clevis's arguments. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/commands.h"
#include "client/jwe.h"
#include "client/pin.h"
#include "common/log.h"
#include "common/util.h"

/* Base64 makes the ciphertext 4/3 of this; the rest of JWE_MAX is left
   for the header, which nested sss pins make a few KiB per pin. */
#define PLAINTEXT_MAX JWE_PLAINTEXT_MAX

static void
encrypt_usage(FILE *f)
{
	fprintf(f,
	        "usage: tether encrypt PIN CONFIG [-y] < PLAINTEXT > JWE\n\n"
	        "Binds PLAINTEXT (at most 512 KiB) to PIN and writes a compact JWE\n"
	        "that 'tether decrypt' and 'clevis decrypt' recover it from.\n\n"
	        "  PIN     one of:\n");
	pin_list(f);
	fprintf(f,
	        "  CONFIG  the pin's JSON object, as clevis takes it;\n"
	        "          'tether encrypt PIN --help' describes its members\n"
	        "  -y      trust the servers' signing keys without asking\n\n"
	        "TETHER_CONNECT_TIMEOUT and TETHER_TIMEOUT (seconds) bound each "
	        "server\nexchange (defaults 5 and 15).\n");
}

/* 'tether encrypt PIN --help': the pin's CONFIG members. */
static int
pin_usage(const char *name, FILE *f)
{
	const struct pin *pin = pin_find(name);

	if (!pin)
		return -ENOENT;
	fprintf(f, "usage: tether encrypt %s CONFIG [-y] < PLAINTEXT > JWE\n\n"
	        "CONFIG is a JSON object with these members:\n%s", pin->name,
	        pin->config_help);
	return 0;
}

int
cmd_encrypt(int argc, char **argv)
{
	json_t *cfg;
	json_error_t err;
	uint8_t *pt = NULL;
	char *jwe = NULL;
	size_t len = 0;
	bool trust = false;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			if (i != 2 || pin_usage(argv[1], stdout) < 0)
				encrypt_usage(stdout);
			return 0;
		}
	}
	if (argc == 4 && strcmp(argv[3], "-y") == 0)
		trust = true;
	else if (argc != 3) {
		/* As clevis: a pin with no CONFIG shows the pin's usage. */
		if (argc != 2 || pin_usage(argv[1], stderr) < 0)
			encrypt_usage(stderr);
		return 2;
	}
	cfg = json_loads(argv[2], 0, &err);
	if (!json_is_object(cfg)) {
		log_err("%s: the configuration is not a JSON object (%s)", argv[1],
		        cfg ? "another JSON value" : err.text);
		json_decref(cfg);
		return 1;
	}
	r = read_fd(STDIN_FILENO, PLAINTEXT_MAX, &pt, &len);
	if (r < 0)
		log_err("cannot read the plaintext: %s", r == -EFBIG ?
		        "larger than 512 KiB" : strerror(-r));
	if (r == 0)
		r = pin_encrypt(argv[1], cfg, trust, pt, len, &jwe);
	free_secret(pt, len);
	json_decref(cfg);
	if (r == 0 && (r = write_fd(STDOUT_FILENO, jwe, strlen(jwe))) < 0)
		log_err("cannot write the JWE: %s", strerror(-r));
	free(jwe);
	return r < 0 ? 1 : 0;
}

int
cmd_decrypt(int argc, char **argv)
{
	uint8_t *jwe = NULL, *pt = NULL;
	size_t len = 0, ptlen = 0;
	int r;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	                  strcmp(argv[1], "-h") == 0)) {
		printf("usage: tether decrypt < JWE > PLAINTEXT\n\n"
		       "Recovers a secret bound with tether or clevis (pins %s),\n"
		       "asking the servers or the TPM the JWE names; the JWE "
		       "carries everything needed.\nNothing is written unless the "
		       "whole JWE verifies. There are no options.\n\n"
		       "TETHER_CONNECT_TIMEOUT and TETHER_TIMEOUT (seconds) bound "
		       "each server\nexchange (defaults 5 and 15). TPM2TOOLS_TCTI "
		       "names the TPM (default\ndevice:/dev/tpmrm0).\n",
		       pin_names());
		return 0;
	}
	if (argc != 1) {
		fprintf(stderr, "usage: tether decrypt < JWE > PLAINTEXT\n");
		return 2;
	}
	r = read_fd(STDIN_FILENO, JWE_MAX, &jwe, &len);
	if (r < 0)
		log_err("cannot read the JWE: %s", r == -EFBIG ?
		        "larger than 1 MiB" : strerror(-r));
	if (r == 0)
		r = pin_decrypt((const char *)jwe, len, &pt, &ptlen);
	free(jwe);
	if (r == 0 && (r = write_fd(STDOUT_FILENO, pt, ptlen)) < 0)
		log_err("cannot write the plaintext: %s", strerror(-r));
	free_secret(pt, ptlen);
	return r < 0 ? 1 : 0;
}
