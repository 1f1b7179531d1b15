/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/config.h"

static char path[64];

static void
write_config(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/tetherd-conf-XXXXXX");
	close(mkstemp(path));
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
load(int argc, char **argv, struct serve_config *c)
{
	int r = serve_config_load(argc, argv, c);

	unlink(path);
	return r;
}

static void
test_file_and_flags(void **state)
{
	struct serve_config c;
	char *argv[] = { "serve", "--config", path, "--threads", "3",
	                 "--allow", "10.0.0.0/8", NULL };

	(void)state;
	write_config("# tetherd\n"
	             "keys = /var/lib/tang\n"
	             "listen = http://0.0.0.0:80\n"
	             "listen-open = http://[::]:8080 ; for the old fleet\n"
	             "allow = 192.0.2.0/24\n"
	             "allow = 2001:db8::/32\n"
	             "threads = 9\n"
	             "rec-rate = 30\n"
	             "\n"
	             "audit-log = /var/log/tether.audit\n");
	assert_int_equal(load(7, argv, &c), 0);
	assert_string_equal(c.keys, "/var/lib/tang");
	assert_int_equal(c.nlisten, 2);
	assert_string_equal(c.listen[1], "http://[::]:8080");
	assert_false(c.open[0]);
	assert_true(c.open[1]);
	/* Flags win; a list on the command line replaces the file's. */
	assert_int_equal(c.threads, 3);
	assert_int_equal(c.policy.nallow, 1);
	assert_int_equal(c.policy.rec_rate, 30);
	assert_int_equal(c.policy.rec_burst, 30);	/* the default */
	assert_string_equal(c.audit_log, "/var/log/tether.audit");
	assert_string_equal(c.user, "tether");
	serve_config_free(&c);
}

static void
test_errors(void **state)
{
	static const char *const bad[] = {
		"keys = /k\nthreads = many\n",
		"keys = /k\nthreads = 0\n",
		"keys = /k\nlisten\n",
		"keys = /k\nunknown = 1\n",
		"[server]\nkeys = /k\n",
		"keys = /k\nallow = 10.0.0.1/8\n",
		"keys = /k\nconfig = /etc/other\n",
		"keys =\n",
	};
	struct serve_config c;
	char *argv[] = { "serve", "--config", path, NULL };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("# %s", bad[i]);
		write_config(bad[i]);
		assert_int_equal(load(3, argv, &c), -EINVAL);
		serve_config_free(&c);
	}
	/* No keys anywhere. */
	write_config("threads = 2\n");
	assert_int_equal(load(3, argv, &c), -EINVAL);
	serve_config_free(&c);
	/* A missing file. */
	snprintf(path, sizeof(path), "/nonexistent/tetherd.conf");
	assert_int_equal(serve_config_load(3, argv, &c), -EINVAL);
	serve_config_free(&c);
}

static void
test_flags_only(void **state)
{
	struct serve_config c;
	char *argv[] = { "serve", "-k", "/k", "-l", "http://127.0.0.1:1",
	                 "--user", "nobody2", "--rec-rate", "0", NULL };
	char *bad[] = { "serve", "-k", "/k", "stray", NULL };

	(void)state;
	assert_int_equal(serve_config_load(9, argv, &c), 0);
	assert_int_equal(c.nlisten, 1);
	assert_string_equal(c.user, "nobody2");
	assert_int_equal(c.policy.rec_rate, 0);
	assert_null(c.config);
	serve_config_free(&c);
	assert_int_equal(serve_config_load(4, bad, &c), -EINVAL);
	serve_config_free(&c);
}

static void
test_shipped_example(void **state)
{
	const char *root = getenv("TETHER_SOURCE_ROOT");
	char file[4096];
	struct serve_config c;

	(void)state;
	assert_non_null(root);
	snprintf(file, sizeof(file), "%s/etc/tetherd.conf", root);
	memset(&c, 0, sizeof(c));
	assert_int_equal(serve_config_read_file(file, &c), 0);
	assert_string_equal(c.keys, "/var/lib/tether");
	assert_string_equal(c.audit_log, "/var/log/tether/audit.log");
	/* Everything else is a comment: the systemd socket gives listeners. */
	assert_int_equal(c.nlisten, 0);
	assert_null(c.clients);
	serve_config_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_and_flags),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_flags_only),
		cmocka_unit_test(test_shipped_example),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
