/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "common/libssl.h"

#include "common/dlib.h"
#include "common/util.h"

struct libssl libssl;

static const char *const sonames[] = { "libssl.so.3" };

static const struct dlib_symbol symbols[] = {
#define LIBSSL_SYMBOL(fn) DLIB_SYMBOL(struct libssl, 0, fn),
	LIBSSL_FUNCTIONS(LIBSSL_SYMBOL)
#undef LIBSSL_SYMBOL
};

static struct dlib libssl_lib = {
	.need = "https needs OpenSSL's libssl",
	.version = "https needs OpenSSL 3's libssl",
	.sonames = sonames,
	.nlibs = ARRAY_SIZE(sonames),
	.symbols = symbols,
	.nsymbols = ARRAY_SIZE(symbols),
	.table = &libssl,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

int
libssl_load(void)
{
	return dlib_load(&libssl_lib);
}

const char *
libssl_error(void)
{
	return dlib_error(&libssl_lib);
}
