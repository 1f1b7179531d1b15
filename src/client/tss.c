/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * tpm2-tss, loaded when the tpm2 pin first runs. Linked, its libraries
 * (and libtss2-sys, which ESYS needs) were loaded by every tether and
 * copied into every initramfs, and each start paid for their
 * relocations.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "client/tss.h"
#include "common/log.h"
#include "common/util.h"

/* resolve copies dlsym's void * into a function pointer, which POSIX
   requires to be possible. */
_Static_assert(sizeof(void *) == sizeof(&Esys_Initialize),
               "function and object pointers differ in size");

struct tss tss;

/* The sonames of tpm2-tss 3 and 4, by enum tss_lib. */
static const char *const sonames[TSS_NLIBS] = {
	[TSS_ESYS] = "libtss2-esys.so.0",
	[TSS_TCTILDR] = "libtss2-tctildr.so.0",
	[TSS_MU] = "libtss2-mu.so.0",
	[TSS_RC] = "libtss2-rc.so.0",
};

static const struct tss_symbol {
	enum tss_lib lib;
	const char *name;
	size_t offset;		/* of its member in struct tss */
} symbols[] = {
#define TSS_SYMBOL(lib, fn) { lib, #fn, offsetof(struct tss, fn) },
	TSS_FUNCTIONS(TSS_SYMBOL)
#undef TSS_SYMBOL
};

/* Empty once loaded; else why not, said again to each caller. */
static char missing[320] = "tpm2: tpm2-tss is not loaded";

/* dlerror's reason, without the soname it starts with. */
static void
not_loaded(const char *soname)
{
	const char *why = dlerror();
	size_t n = strlen(soname);
	char shown[256];

	if (!why)
		why = "not found";
	else if (strncmp(why, soname, n) == 0 && strncmp(why + n, ": ", 2) == 0)
		why += n + 2;
	log_escape(shown, sizeof(shown), why, strlen(why));
	snprintf(missing, sizeof(missing),
	         "tpm2: the tpm2 pin needs tpm2-tss (%s): %s", soname, shown);
}

/* Stores the function's address in its member: copied, as POSIX's dlsym
   rationale stores it (through a void **), without converting a void *
   to a function pointer, which ISO C leaves undefined. */
static int
resolve(void *lib, const struct tss_symbol *s)
{
	void *sym;

	(void)dlerror();
	sym = dlsym(lib, s->name);
	if (!sym) {
		snprintf(missing, sizeof(missing), "tpm2: the tpm2 pin needs "
		         "tpm2-tss 3.0 or later: %s lacks %s", sonames[s->lib],
		         s->name);
		return -ENOPKG;
	}
	memcpy((char *)&tss + s->offset, &sym, sizeof(sym));
	return 0;
}

/* Never closed: the pin may run again, and a TCTI module the loader
   opened may still be in use. */
static void
load_once(void)
{
	void *libs[TSS_NLIBS];

	for (size_t i = 0; i < TSS_NLIBS; i++) {
		libs[i] = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);
		if (!libs[i]) {
			not_loaded(sonames[i]);
			return;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(symbols); i++)
		if (resolve(libs[symbols[i].lib], &symbols[i]) < 0)
			return;
	missing[0] = '\0';
}

int
tss_load(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	if (pthread_once(&once, load_once) != 0 || missing[0] != '\0') {
		log_err("%s", missing);
		return -ENOPKG;
	}
	return 0;
}
