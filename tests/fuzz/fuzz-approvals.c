/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * tetherd's approvals file, next to the clients file, as approvals_parse
 * reads it at every held recovery and every approve or deny. Whatever
 * parses formats to a text that parses to the same lines, each found by
 * its name.
 */
#include "fuzz.h"

#include "server/approvals.h"

FUZZ_NO_INITIALIZE

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct approval_list l, again;
	size_t line;
	char *text;

	if (approvals_parse((const char *)data, size, &l, &line) < 0)
		return 0;
	if (l.n > APPROVALS_MAX)
		abort();
	text = approvals_format(&l);
	if (!text || approvals_parse(text, strlen(text), &again, &line) < 0 ||
	    again.n != l.n)
		abort();
	for (size_t i = 0; i < l.n; i++)
		if (!client_name_valid(l.a[i].name) ||
		    approvals_find(&l, l.a[i].name,
		                   l.a[i].state == APPROVAL_SEEN) != &l.a[i] ||
		    memcmp(&l.a[i], &again.a[i], sizeof(l.a[i])) != 0)
			abort();
	approvals_free(&again);
	approvals_free(&l);
	free(text);
	return 0;
}
