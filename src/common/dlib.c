/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "common/dlib.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"


/* resolve copies dlsym's void * into a function pointer, which POSIX
   requires to be possible. */
_Static_assert(sizeof(void *) == sizeof(&dlib_load),
               "function and object pointers differ in size");

/* dlerror's reason, without the soname it starts with. */
static void
not_loaded(struct dlib *d, const char *soname)
{
	const char *why = dlerror();
	size_t n = strlen(soname);
	char shown[256];

	if (!why)
		why = "not found";
	else if (strncmp(why, soname, n) == 0 && strncmp(why + n, ": ", 2) == 0)
		why += n + 2;
	log_escape(shown, sizeof(shown), why, strlen(why));
	snprintf(d->missing, sizeof(d->missing), "%s (%s): %s", d->need, soname,
	         shown);
}

/* Stores the function's address in its member: copied, as POSIX's dlsym
   rationale stores it (through a void **), without converting a void *
   to a function pointer, which ISO C leaves undefined. */
static int
resolve(struct dlib *d, void *lib, const struct dlib_symbol *s)
{
	void *sym;

	(void)dlerror();
	sym = dlsym(lib, s->name);
	if (!sym) {
		snprintf(d->missing, sizeof(d->missing), "%s: %s lacks %s",
		         d->version, d->sonames[s->lib], s->name);
		return -ENOPKG;
	}
	memcpy((char *)d->table + s->offset, &sym, sizeof(sym));
	return 0;
}

static int
load(struct dlib *d)
{
	void *libs[8];

	if (d->nlibs > sizeof(libs) / sizeof(libs[0])) {
		snprintf(d->missing, sizeof(d->missing), "%s: too many libraries",
		         d->need);
		return -EINVAL;
	}
	for (size_t i = 0; i < d->nlibs; i++) {
		libs[i] = dlopen(d->sonames[i], RTLD_NOW | RTLD_LOCAL);
		if (!libs[i]) {
			not_loaded(d, d->sonames[i]);
			return -ENOPKG;
		}
	}
	for (size_t i = 0; i < d->nsymbols; i++)
		if (d->symbols[i].lib >= d->nlibs ||
		    resolve(d, libs[d->symbols[i].lib], &d->symbols[i]) < 0)
			return -ENOPKG;
	return 0;
}

int
dlib_load(struct dlib *d)
{
	int state;

	if (pthread_mutex_lock(&d->lock) != 0)
		return -ENOPKG;
	if (d->state == 0)
		d->state = load(d) == 0 ? 1 : -1;
	state = d->state;
	pthread_mutex_unlock(&d->lock);
	return state < 0 ? -ENOPKG : 0;
}

const char *
dlib_error(const struct dlib *d)
{
	return d->missing;
}
