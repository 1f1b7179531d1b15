/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_FUZZ_H
#define TETHER_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* libFuzzer's entry points, called by replay.c in builds without it. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* For a target with nothing to set up. */
#define FUZZ_NO_INITIALIZE                                      \
	int LLVMFuzzerInitialize(int *argc, char ***argv)       \
	{                                                       \
		(void)argc;                                     \
		(void)argv;                                     \
		return 0;                                       \
	}

/* The input as a C string (a NUL inside ends it early); NULL if no memory. */
static inline char *
fuzz_text(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (text) {
		memcpy(text, data, size);
		text[size] = '\0';
	}
	return text;
}

#endif
