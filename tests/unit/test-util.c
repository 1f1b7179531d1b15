/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "common/util.h"

static void
test_parse_ulong(void **state)
{
	unsigned long v = 7;

	(void)state;
	assert_int_equal(parse_ulong("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_ulong("65535", 1, 65535, &v), 0);
	assert_int_equal(v, 65535);
	assert_int_equal(parse_ulong("65536", 1, 65535, &v), -ERANGE);
	assert_int_equal(parse_ulong("0", 1, 65535, &v), -ERANGE);
	assert_int_equal(parse_ulong("99999999999999999999999", 0, 10, &v), -ERANGE);
	assert_int_equal(parse_ulong("", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_ulong(NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(parse_ulong("-1", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_ulong("+1", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_ulong(" 1", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_ulong("1 ", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_ulong("0x10", 0, 100, &v), -EINVAL);
	assert_int_equal(v, 65535);
}

static void
test_temp_file_names(void **state)
{
	(void)state;
	assert_true(is_temp_file_name(".tmp-0123456789ab"));
	assert_false(is_temp_file_name(".tmp-0123456789AB"));
	assert_false(is_temp_file_name(".tmp-0123456789a"));
	assert_false(is_temp_file_name(".tmp-0123456789abc"));
	assert_false(is_temp_file_name(".tmp-01234567-9ab"));
	assert_false(is_temp_file_name("tmp-0123456789ab"));
	assert_false(is_temp_file_name(".tmp-"));
}

static void
test_files(void **state)
{
	char dir[] = "/tmp/tether-util.XXXXXX", cmd[64], *buf;
	struct stat st;
	size_t len;
	int dirfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dirfd >= 0);

	assert_int_equal(write_file_at(dirfd, "a.jwk", "hello", 5, 0600), 0);
	assert_int_equal(fstatat(dirfd, "a.jwk", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 5);
	/* Never replaces: a key file once written stays as it was. */
	assert_int_equal(write_file_at(dirfd, "a.jwk", "other", 5, 0600), -EEXIST);
	assert_int_equal(read_file_at(dirfd, "a.jwk", 5, &buf, &len), 0);
	assert_int_equal(len, 5);
	assert_string_equal(buf, "hello");
	free(buf);
	assert_int_equal(read_file_at(dirfd, "a.jwk", 4, &buf, &len), -EFBIG);
	assert_int_equal(read_file_at(dirfd, ".", 100, &buf, &len), -EINVAL);
	assert_int_equal(read_file_at(dirfd, "missing", 100, &buf, &len), -ENOENT);
	/* A FIFO with no writer is refused at once, not waited on. */
	assert_int_equal(mkfifoat(dirfd, "fifo", 0600), 0);
	assert_int_equal(read_file_at(dirfd, "fifo", 100, &buf, &len), -EINVAL);
	assert_int_equal(unlinkat(dirfd, "fifo", 0), 0);

	/* No temporary file is left behind. */
	snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 1", dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	close(dirfd);
}

static void
test_escape(void **state)
{
	char out[16];

	(void)state;
	log_escape(out, sizeof(out), "/adv", 4);
	assert_string_equal(out, "/adv");
	log_escape(out, sizeof(out), "a\nb\\c\x7f", 6);
	assert_string_equal(out, "a\\x0ab\\x5cc\\x7f");
	/* Cut whole escapes, never half of one, and always terminate. */
	log_escape(out, 8, "ab\x01\x02", 4);
	assert_string_equal(out, "ab\\x01");
	log_escape(out, 1, "abc", 3);
	assert_string_equal(out, "");
}

static void
test_equal_const_time(void **state)
{
	(void)state;
	assert_true(equal_const_time("abcd", "abcd", 4));
	assert_false(equal_const_time("abcd", "abce", 4));
	assert_false(equal_const_time("xbcd", "abcd", 4));
	assert_true(equal_const_time("a", "b", 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ulong),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_temp_file_names),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_equal_const_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
