/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "common/libssl.h"

#include "common/dlib.h"

struct libssl libssl;

static const char *const sonames[] = { "libssl.so.3" };

static const struct dlib_symbol symbols[] = {
#define LIBSSL_SYMBOL(fn) DLIB_SYMBOL(struct libssl, 0, fn),
	LIBSSL_FUNCTIONS(LIBSSL_SYMBOL)
#undef LIBSSL_SYMBOL
};

static struct dlib libssl_lib = DLIB_INIT("https needs OpenSSL's libssl",
	"https needs OpenSSL 3's libssl", sonames, symbols, &libssl);

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
