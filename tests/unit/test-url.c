/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/url.h"

static void
test_valid(void **state)
{
	static const struct {
		const char *text, *formatted, *rec;
	} cases[] = {
		{ "http://tang.example.com", "http://tang.example.com:80", "/rec/K" },
		{ "tang.example.com:8080", "http://tang.example.com:8080", "/rec/K" },
		{ "http://10.0.2.2:7500/", "http://10.0.2.2:7500", "/rec/K" },
		{ "http://[::1]:9090/tang//", "http://[::1]:9090/tang", "/tang/rec/K" },
		{ "https://host.local/a/b", "https://host.local:443/a/b", "/a/b/rec/K" },
		{ "http://[fe80::1]", "http://[fe80::1]:80", "/rec/K" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[128];
		struct url u;

		print_message("# %s\n", cases[i].text);
		assert_int_equal(url_parse(cases[i].text, &u), 0);
		url_format(&u, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].formatted);
		assert_int_equal(url_target(&u, "/rec/K", buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].rec);
	}
}

/* Credentials are kept for the request and never shown. */
static void
test_credentials(void **state)
{
	char buf[128];
	struct url u;

	(void)state;
	assert_int_equal(url_parse("https://web-1:tok_EN.x~9@127.0.0.1:8443/p",
	                           &u), 0);
	assert_string_equal(u.user, "web-1");
	assert_string_equal(u.pass, "tok_EN.x~9");
	assert_string_equal(u.host, "127.0.0.1");
	url_format(&u, buf, sizeof(buf));
	assert_string_equal(buf, "https://127.0.0.1:8443/p");
	assert_int_equal(url_parse("http://[::1]:80", &u), 0);
	assert_string_equal(u.user, "");
}

/* Over plain http a token would cross the network in clear. */
static void
test_credentials_need_https(void **state)
{
	static const char *const plain[] = {
		"http://web-1:tok@127.0.0.1:8080", "web-1:tok@tang.example.com",
		"http://web-1:tok@[::1]/p",
	};
	struct url u;

	(void)state;
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		print_message("# %s\n", plain[i]);
		assert_int_equal(url_parse(plain[i], &u), -EPERM);
		/* Nothing of the refused URL is left to be sent. */
		assert_string_equal(u.user, "");
		assert_string_equal(u.pass, "");
	}
}

static void
test_invalid(void **state)
{
	static const char *const bad[] = {
		"", "http://", "ftp://host", "http://host:0", "http://host:65536",
		"http://host:", "http://host:80x", "http://host/?q", "http://host#f",
		"http://user@host", "http://:pw@host", "http://user:@host",
		"http://us er:pw@host", "http://user:p%41@host", "http://a:b:c@host",
		"http://ho st", "http://host\r\nX: y",
		"http://[::1", "http://[::1]x", "http://[nothex]:80", "http://[]",
		"http://host/a b", "http://host/a\"b",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct url u;

		print_message("# invalid URL %zu\n", i);
		assert_int_equal(url_parse(bad[i], &u), -EINVAL);
	}
}

static void
test_target_too_long(void **state)
{
	char text[URL_PATH_MAX + 32], out[32];
	struct url u;

	(void)state;
	strcpy(text, "http://h/");
	memset(text + 9, 'p', URL_PATH_MAX - 1);
	text[9 + URL_PATH_MAX - 1] = '\0';
	assert_int_equal(url_parse(text, &u), 0);
	assert_int_equal(url_target(&u, "/adv", out, sizeof(out)), -ENAMETOOLONG);
	/* One more character than a path may hold. */
	strcat(text, "pp");
	assert_int_equal(url_parse(text, &u), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_credentials_need_https),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_target_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
