/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/clients.h"

static void
test_parse_and_check(void **state)
{
	char hex[CLIENT_HASH_HEX + 1], *text, *again;
	struct client_list l;
	size_t line;

	(void)state;
	assert_int_equal(client_token_hash("secret", 6, hex), 0);
	/* SHA-256("secret") */
	assert_string_equal(hex, "2bb80d537b1da3e38bd30361aa855686"
	                         "bde0eacd7162fef6a25fe97bf527a25b");
	assert_true(asprintf(&text, "web1 enabled %s\nold disabled %s\n", hex,
	                     hex) > 0);
	assert_int_equal(clients_parse(text, strlen(text), &l, &line), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(clients_check(&l, "web1", "secret"), CLIENT_OK);
	assert_int_equal(clients_check(&l, "web1", "secreT"), CLIENT_UNKNOWN);
	assert_int_equal(clients_check(&l, "web1", ""), CLIENT_UNKNOWN);
	assert_int_equal(clients_check(&l, "nobody", "secret"), CLIENT_UNKNOWN);
	assert_int_equal(clients_check(&l, "old", "secret"), CLIENT_DISABLED);
	assert_int_equal(clients_check(&l, "old", "wrong"), CLIENT_UNKNOWN);
	again = clients_format(&l);
	assert_string_equal(again, text);
	free(again);
	clients_free(&l);
	free(text);
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
		"web1 enabled 00\n",
		"web1 on 2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b\n",
		"we b1 enabled 2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b\n",
		"web1  enabled 2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b\n",
		"web1 enabled 2BB80D537B1DA3E38BD30361AA855686BDE0EACD7162FEF6A25FE97BF527A25B\n",
		"\n",
	};
	struct client_list l;
	size_t line;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(clients_parse(bad[i], strlen(bad[i]), &l, &line),
		                 -EINVAL);
	/* A name twice, reported at its second line. */
	assert_int_equal(clients_parse(
		"a enabled 2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b\n"
		"a enabled 2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b\n",
		154, &l, &line), -EINVAL);
	assert_int_equal(line, 2);
	assert_true(client_name_valid("db-2.example_x"));
	assert_false(client_name_valid(""));
	assert_false(client_name_valid("a:b"));
	assert_false(client_name_valid("a@b"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_check),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
