/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/route.h"

static const struct {
	const char *method;
	const char *path;
	enum route route;
	int method_ok;
	const char *kid;
} cases[] = {
	{ "GET", "/adv", ROUTE_ADV, 1, "" },
	{ "POST", "/tether/heartbeat", ROUTE_HEARTBEAT, 1, "" },
	{ "GET", "/tether/heartbeat", ROUTE_HEARTBEAT, 0, "" },
	{ "POST", "/tether/heartbeat/", ROUTE_NONE, 0, "" },
	{ "POST", "/tether/heartbeatx", ROUTE_NONE, 0, "" },
	{ "GET", "/adv/", ROUTE_ADV, 1, "" },
	{ "GET", "//adv//", ROUTE_ADV, 1, "" },
	{ "POST", "/adv", ROUTE_ADV, 0, "" },
	{ "HEAD", "/adv", ROUTE_ADV, 0, "" },
	{ "GET", "/adv/abc_-9Z", ROUTE_ADV_KID, 1, "abc_-9Z" },
	{ "GET", "///adv///abc", ROUTE_ADV_KID, 1, "abc" },
	{ "PUT", "/adv/abc", ROUTE_ADV_KID, 0, "abc" },
	{ "POST", "/rec/abc", ROUTE_REC, 1, "abc" },
	{ "POST", "//rec//abc", ROUTE_REC, 1, "abc" },
	{ "GET", "/rec/abc", ROUTE_REC, 0, "abc" },
	{ "POST", "/rec", ROUTE_NONE, 0, "" },
	{ "POST", "/rec/", ROUTE_NONE, 0, "" },
	{ "POST", "/recabc", ROUTE_NONE, 0, "" },
	{ "POST", "/rec/abc/", ROUTE_NONE, 0, "" },
	{ "POST", "/rec/a.b", ROUTE_NONE, 0, "" },
	{ "POST", "/rec/a%2fb", ROUTE_NONE, 0, "" },
	{ "GET", "/advx", ROUTE_NONE, 0, "" },
	{ "GET", "/adv/abc/def", ROUTE_NONE, 0, "" },
	{ "GET", "adv", ROUTE_NONE, 0, "" },
	{ "GET", "", ROUTE_NONE, 0, "" },
	{ "GET", "/", ROUTE_NONE, 0, "" },
	{ "GET", "/ADV", ROUTE_NONE, 0, "" },
	{ "GET", "/adv?x=1", ROUTE_NONE, 0, "" },
};

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct route_match m;

		route_match(cases[i].method, cases[i].path, &m);
		print_message("# %s %s\n", cases[i].method, cases[i].path);
		assert_int_equal(m.route, cases[i].route);
		assert_int_equal(m.method_ok, cases[i].method_ok);
		assert_string_equal(m.kid, cases[i].kid);
	}
}

static void
test_kid_lengths(void **state)
{
	char path[JWK_THP_MAX + 16];
	struct route_match m;

	(void)state;
	/* The longest thumbprint (S512) still routes... */
	strcpy(path, "/rec/");
	memset(path + 5, 'A', JWK_THP_MAX);
	path[5 + JWK_THP_MAX] = '\0';
	route_match("POST", path, &m);
	assert_int_equal(m.route, ROUTE_REC);
	assert_int_equal(strlen(m.kid), JWK_THP_MAX);
	/* ...one more character can be no key's: not found, never copied. */
	path[5 + JWK_THP_MAX] = 'A';
	path[6 + JWK_THP_MAX] = '\0';
	route_match("POST", path, &m);
	assert_int_equal(m.route, ROUTE_NONE);
	assert_string_equal(m.kid, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_kid_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
