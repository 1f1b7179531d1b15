/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * tpm2-tss, loaded when the tpm2 pin first runs. Linked, its libraries
 * (and libtss2-sys, which ESYS needs) were loaded by every tether and
 * copied into every initramfs, and each start paid for their
 * relocations.
 */
#include "client/tss.h"

#include "common/dlib.h"
#include "common/log.h"

struct tss tss;

/* The sonames of tpm2-tss 3 and 4, by enum tss_lib. */
static const char *const sonames[TSS_NLIBS] = {
	[TSS_ESYS] = "libtss2-esys.so.0",
	[TSS_TCTILDR] = "libtss2-tctildr.so.0",
	[TSS_MU] = "libtss2-mu.so.0",
	[TSS_RC] = "libtss2-rc.so.0",
};

static const struct dlib_symbol symbols[] = {
#define TSS_SYMBOL(lib, fn) DLIB_SYMBOL(struct tss, lib, fn),
	TSS_FUNCTIONS(TSS_SYMBOL)
#undef TSS_SYMBOL
};

/* A TCTI module the loader opened may still be in use: never closed. */
static struct dlib tss_lib = DLIB_INIT("tpm2: the tpm2 pin needs tpm2-tss",
	"tpm2: the tpm2 pin needs tpm2-tss 3.0 or later", sonames, symbols, &tss);

int
tss_load(void)
{
	int r = dlib_load(&tss_lib);

	if (r < 0)
		log_err("%s", dlib_error(&tss_lib));
	return r;
}
