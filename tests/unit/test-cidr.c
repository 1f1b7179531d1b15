/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "test-addr.h"

#include "server/cidr.h"

static bool
in(const char *block, const char *a)
{
	struct sockaddr_storage ss = addr(a);
	struct cidr c;

	assert_int_equal(cidr_parse(block, &c), 0);
	return cidr_contains(&c, (struct sockaddr *)&ss);
}

static void
test_contains(void **state)
{
	(void)state;
	assert_true(in("192.0.2.0/24", "192.0.2.77"));
	assert_false(in("192.0.2.0/24", "192.0.3.1"));
	assert_true(in("10.0.0.0/9", "10.127.255.255"));
	assert_false(in("10.0.0.0/9", "10.128.0.0"));
	assert_true(in("0.0.0.0/0", "203.0.113.9"));
	assert_true(in("127.0.0.1", "127.0.0.1"));
	assert_false(in("127.0.0.1", "127.0.0.2"));
	assert_true(in("2001:db8::/32", "2001:db8:ffff::1"));
	assert_false(in("2001:db8::/32", "2001:db9::1"));
	assert_true(in("::1", "::1"));
	/* IPv4 clients of a dual-stack socket arrive as mapped addresses. */
	assert_true(in("192.0.2.0/24", "::ffff:192.0.2.5"));
	assert_false(in("192.0.2.0/24", "::ffff:192.0.3.5"));
	assert_false(in("::/0", "192.0.2.5"));
	assert_false(in("0.0.0.0/0", "2001:db8::1"));
	assert_false(cidr_contains(&(struct cidr){ .family = AF_INET }, NULL));
}

static void
test_parse(void **state)
{
	static const char *const bad[] = {
		"", "/24", "192.0.2.0/", "192.0.2.0/33", "192.0.2.1/24",
		"192.0.2.0/024", "192.0.2.0/-1", "192.0.2/24", "host/24",
		"2001:db8::/129", "2001:db8::1/64", "192.0.2.0/24 ",
	};
	char text[CIDR_TEXT_MAX];
	struct cidr c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("# %s\n", bad[i]);
		assert_int_equal(cidr_parse(bad[i], &c), -EINVAL);
	}
	assert_int_equal(cidr_parse("2001:db8::/32", &c), 0);
	cidr_format(&c, text, sizeof(text));
	assert_string_equal(text, "2001:db8::/32");
	assert_int_equal(cidr_parse("198.51.100.7", &c), 0);
	cidr_format(&c, text, sizeof(text));
	assert_string_equal(text, "198.51.100.7/32");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
