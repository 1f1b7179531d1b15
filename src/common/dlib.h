/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef TETHER_COMMON_DLIB_H
#define TETHER_COMMON_DLIB_H

#include <pthread.h>
#include <stddef.h>

/*
 * Libraries loaded (dlopen) the first time something needs them, so that
 * a command that does not, and an initramfs without a binding that does,
 * never loads them: tpm2-tss for the tpm2 pin, libssl for https, zlib for
 * a compressed JWE. The functions land in a struct of pointers, one
 * member per function, named after it and typed by its own prototype.
 */

struct dlib_symbol {
	size_t lib;		/* index in the sonames */
	const char *name;
	size_t offset;		/* of its member in the table */
};

struct dlib {
	/* What is missing, said when a library is: "https needs libssl". */
	const char *need;
	/* The version the symbols need, said when one is missing. */
	const char *version;
	const char *const *sonames;
	size_t nlibs;
	const struct dlib_symbol *symbols;
	size_t nsymbols;
	void *table;

	pthread_mutex_t lock;	/* PTHREAD_MUTEX_INITIALIZER */
	int state;		/* 0 not tried, 1 loaded, -1 failed */
	char missing[320];
};

#define DLIB_SYMBOL(type, lib, fn) { lib, #fn, offsetof(type, fn) }

/* A struct dlib over the arrays sonames and symbols, filling table. */
#define DLIB_INIT(need_, version_, sonames_, symbols_, table_) { \
	.need = (need_), .version = (version_), \
	.sonames = (sonames_), \
	.nlibs = sizeof(sonames_) / sizeof((sonames_)[0]), \
	.symbols = (symbols_), \
	.nsymbols = sizeof(symbols_) / sizeof((symbols_)[0]), \
	.table = (table_), .lock = PTHREAD_MUTEX_INITIALIZER, \
}

/*
 * Loads the libraries and resolves every function, once per process
 * (later calls return the first outcome). 0, or -ENOPKG when a library
 * or a function is missing: dlib_error says which, for the caller to
 * say. Never unloaded: what they set up may outlive the caller.
 */
int dlib_load(struct dlib *d);

/* Why the last dlib_load failed: "https needs ... (libssl.so.3): ...". */
const char *dlib_error(const struct dlib *d);

#endif
