/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "server/listen.h"

static void
test_valid(void **state)
{
	static const struct {
		const char *url;
		const char *formatted;
		bool tls;
	} cases[] = {
		{ "http://127.0.0.1:9090", "127.0.0.1:9090", false },
		{ "http://0.0.0.0:80", "0.0.0.0:80", false },
		{ "http://[::1]:65535", "[::1]:65535", false },
		{ "http://[::]:1", "[::]:1", false },
		{ "http://[2001:db8::7]:443", "[2001:db8::7]:443", false },
		{ "https://127.0.0.1:443", "127.0.0.1:443", true },
		{ "https://[::1]:8443", "[::1]:8443", true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct listen_url u;
		char buf[64];

		assert_int_equal(listen_url_parse(cases[i].url, &u), 0);
		sockaddr_format((struct sockaddr *)&u.addr, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].formatted);
		assert_int_equal(u.tls, cases[i].tls);
	}
}

static void
test_invalid(void **state)
{
	static const char *const bad[] = {
		"", "http://", "127.0.0.1:80", "https//127.0.0.1:80", "https://", "httpss://127.0.0.1:80",
		"ftp://127.0.0.1:80", "http://localhost:80",
		"http://127.0.0.1", "http://127.0.0.1:", "http://127.0.0.1:0",
		"http://127.0.0.1:65536", "http://127.0.0.1:99999999999999999999",
		"http://127.0.0.1:+80", "http://127.0.0.1:-1", "http://127.0.0.1:8 0",
		"http://127.0.0.1:80/", "http://127.0.0.1:80x", "http://1.2.3:80",
		"http://::1:80", "http://[::1]", "http://[::1]80", "http://[]:80",
		"http://[::1:80", "http://[127.0.0.1]:80", "http://[fe80::1%lo]:80",
		"http://:80",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct listen_url u;

		print_message("# %s\n", bad[i]);
		assert_int_equal(listen_url_parse(bad[i], &u), -EINVAL);
	}
}

static void
test_open(void **state)
{
	struct sockaddr_in bound;
	socklen_t len = sizeof(bound);
	struct listen_url u;
	int fd;

	(void)state;
	/* Port 0 is refused on the command line; ask the kernel for one here. */
	assert_int_equal(listen_url_parse("http://127.0.0.1:1", &u), 0);
	((struct sockaddr_in *)&u.addr)->sin_port = 0;
	fd = listen_open(&u);
	assert_true(fd >= 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&bound, &len), 0);
	assert_int_not_equal(bound.sin_port, 0);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
