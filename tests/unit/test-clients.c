/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

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
	assert_int_equal(clients_check(&l, "web1", "secret", NULL), CLIENT_OK);
	assert_int_equal(clients_check(&l, "web1", "secreT", NULL), CLIENT_UNKNOWN);
	assert_int_equal(clients_check(&l, "web1", "", NULL), CLIENT_UNKNOWN);
	assert_int_equal(clients_check(&l, "nobody", "secret", NULL), CLIENT_UNKNOWN);
	assert_int_equal(clients_check(&l, "old", "secret", NULL), CLIENT_DISABLED);
	assert_int_equal(clients_check(&l, "old", "wrong", NULL), CLIENT_UNKNOWN);
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

static void
test_allow(void **state)
{
	static const char hash[] =
		"2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";
	struct sockaddr_in in4 = { .sin_family = AF_INET };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
	struct client_list l;
	struct client one;
	char *text, *again;
	size_t line;

	(void)state;
	assert_true(asprintf(&text, "web1 enabled %s 192.0.2.0/24,2001:db8::/32\n"
	                     "old disabled %s 198.51.100.7/32\n", hash,
	                     hash) > 0);
	assert_int_equal(clients_parse(text, strlen(text), &l, &line), 0);
	assert_int_equal(l.c[0].nallow, 2);
	inet_pton(AF_INET, "192.0.2.9", &in4.sin_addr);
	assert_int_equal(clients_check(&l, "web1", "secret",
	                               (struct sockaddr *)&in4), CLIENT_OK);
	inet_pton(AF_INET, "192.0.3.9", &in4.sin_addr);
	assert_int_equal(clients_check(&l, "web1", "secret",
	                               (struct sockaddr *)&in4), CLIENT_ELSEWHERE);
	/* A wrong token from outside is still just a wrong token. */
	assert_int_equal(clients_check(&l, "web1", "nope",
	                               (struct sockaddr *)&in4), CLIENT_UNKNOWN);
	inet_pton(AF_INET6, "2001:db8:1::5", &in6.sin6_addr);
	assert_int_equal(clients_check(&l, "web1", "secret",
	                               (struct sockaddr *)&in6), CLIENT_OK);
	assert_int_equal(clients_check(&l, "web1", "secret", NULL),
	                 CLIENT_ELSEWHERE);
	/* Disabled wins over the address. */
	inet_pton(AF_INET, "198.51.100.7", &in4.sin_addr);
	assert_int_equal(clients_check(&l, "old", "secret",
	                               (struct sockaddr *)&in4), CLIENT_DISABLED);
	again = clients_format(&l);
	assert_string_equal(again, text);
	free(again);
	clients_free(&l);
	free(text);
	assert_int_equal(client_allow_parse(&one, "192.0.2.0/24,"), -EINVAL);
	assert_int_equal(client_allow_parse(&one, ",192.0.2.0/24"), -EINVAL);
	assert_int_equal(client_allow_parse(&one, "192.0.2.1/24"), -EINVAL);
	assert_int_equal(client_allow_parse(&one,
		"1.0.0.0/8,2.0.0.0/8,3.0.0.0/8,4.0.0.0/8,5.0.0.0/8,6.0.0.0/8,"
		"7.0.0.0/8,8.0.0.0/8,9.0.0.0/8"), -EINVAL);
}

/* approval=manual after the hash, and after a CIDR list; kept as written. */
static void
test_approval(void **state)
{
#define H "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
	static const char good[] = "box enabled " H " approval=manual\n"
		"db enabled " H " 192.0.2.0/24 approval=manual\n"
		"web1 enabled " H " 192.0.2.0/24\n"
		"pc enabled " H " heartbeat=3600\n"
		"pc2 enabled " H " 192.0.2.0/24 approval=manual heartbeat=60\n";
	static const char *const bad[] = {
		"box enabled " H " approval=manual 192.0.2.0/24\n",
		"box enabled " H " approval=manual approval=manual\n",
		"box enabled " H " approval=auto\n",
		"box enabled " H " 192.0.2.0/24 192.0.2.0/24\n",
		"box enabled " H " \n",
		"box enabled " H " heartbeat=0\n",
		"box enabled " H " heartbeat=60 heartbeat=60\n",
		"box enabled " H " heartbeat=1h\n",
		"box enabled " H " heartbeat=60 192.0.2.0/24\n",
	};
	struct client_list l;
	struct client_rules rules = { 0 };
	size_t line;
	char *again;

	(void)state;
	assert_int_equal(clients_parse(good, strlen(good), &l, &line), 0);
	assert_true(l.c[0].approval);
	assert_true(l.c[1].approval);
	assert_int_equal(l.c[1].nallow, 1);
	assert_false(l.c[2].approval);
	assert_int_equal(l.c[3].heartbeat, 3600);
	assert_int_equal(l.c[4].heartbeat, 60);
	assert_true(l.c[4].approval);
	again = clients_format(&l);
	assert_string_equal(again, good);
	free(again);
	clients_free(&l);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(clients_parse(bad[i], strlen(bad[i]), &l, &line),
		                 -EINVAL);
	assert_int_equal(clients_parse(good, strlen(good), &l, &line), 0);
	assert_int_equal(clients_check_rules(&l, "box", "nope", NULL,
	                                        &rules), CLIENT_UNKNOWN);
	assert_false(rules.approval);
	assert_int_equal(clients_check_rules(&l, "box", "secret", NULL,
	                                        &rules), CLIENT_OK);
	assert_true(rules.approval);
	assert_int_equal(clients_check_rules(&l, "web1", "secret", NULL,
	                                        &rules), CLIENT_ELSEWHERE);
	clients_free(&l);
#undef H
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_check),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_allow),
		cmocka_unit_test(test_approval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
