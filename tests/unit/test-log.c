/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What log lines look like on stderr: with JOURNAL_STREAM naming stderr
 * (as systemd sets it, "DEV:INODE" in decimal), a syslog priority "<N>"
 * and no program name; with it unset, naming another file or malformed,
 * "PROG: message" as always.
 */
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

#define OUT_MAX 16384

/* Stands for "the file stderr is", which each capture makes anew. */
#define STDERR_ITSELF "@stderr"

static char long_text[5000];

static void
emit_levels(void)
{
	log_err("failed %d", 1);
	log_warn("skipped %s", "one");
	log_msg("started");
	log_line("GET /adv 200");
}

static void
emit_long(void)
{
	log_err("%s", long_text);
}

/*
 * Runs emit with stderr on a fresh file and JOURNAL_STREAM set to
 * stream (STDERR_ITSELF: that file's "DEV:INODE" with suffix appended;
 * NULL: unset), after log_init; returns what the file got.
 */
static char *
capture(const char *stream, const char *suffix, void (*emit)(void))
{
	const char *tmp = getenv("TMPDIR");
	char path[4096], value[128];
	static char out[OUT_MAX];
	struct stat st;
	int fd, saved;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/tether-log.XXXXXX", tmp ? tmp : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(fstat(fd, &st), 0);
	if (!stream) {
		unsetenv("JOURNAL_STREAM");
	} else {
		if (strcmp(stream, STDERR_ITSELF) == 0)
			snprintf(value, sizeof(value), "%llu:%llu%s",
			         (unsigned long long)st.st_dev,
			         (unsigned long long)st.st_ino, suffix);
		else
			snprintf(value, sizeof(value), "%s", stream);
		setenv("JOURNAL_STREAM", value, 1);
	}
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	log_init("prog");
	emit();
	dup2(saved, STDERR_FILENO);
	close(saved);
	unsetenv("JOURNAL_STREAM");
	log_init("prog");
	n = pread(fd, out, sizeof(out) - 1, 0);
	close(fd);
	assert_true(n >= 0);
	out[n] = '\0';
	return out;
}

static void
test_journal_priorities(void **state)
{
	(void)state;
	assert_string_equal(capture(STDERR_ITSELF, "", emit_levels),
	                    "<3>failed 1\n<4>skipped one\n<6>started\n"
	                    "<6>GET /adv 200\n");
}

static void
test_plain(void **state)
{
	static const char plain[] = "prog: failed 1\nprog: skipped one\n"
	                            "prog: started\nGET /adv 200\n";

	(void)state;
	assert_string_equal(capture(NULL, "", emit_levels), plain);
	/* Inherited from a service, but stderr is elsewhere now. */
	assert_string_equal(capture("1:1", "", emit_levels), plain);
}

static void
test_malformed_stream(void **state)
{
	static const char plain[] = "prog: failed 1\nprog: skipped one\n"
	                            "prog: started\nGET /adv 200\n";
	static const char *const suffixes[] = { " ", ":5", "0", "x" };

	(void)state;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		assert_string_equal(capture(STDERR_ITSELF, suffixes[i],
		                            emit_levels), plain);
	assert_string_equal(capture("", "", emit_levels), plain);
	assert_string_equal(capture(":", "", emit_levels), plain);
	assert_string_equal(capture("+1:1", "", emit_levels), plain);
	assert_string_equal(capture("99999999999999999999999:1", "",
	                            emit_levels), plain);
}

/* The 4 KiB cut holds in either form: 4095 bytes, newline included. */
static void
test_long_line_cut(void **state)
{
	const char *out;

	(void)state;
	memset(long_text, 'x', sizeof(long_text) - 1);
	out = capture(STDERR_ITSELF, "", emit_long);
	assert_int_equal(strlen(out), 4095);
	assert_memory_equal(out, "<3>xxx", 6);
	assert_int_equal(out[4094], '\n');
	out = capture(NULL, "", emit_long);
	assert_int_equal(strlen(out), 4095);
	assert_memory_equal(out, "prog: xxx", 9);
	assert_int_equal(out[4094], '\n');
}

static void
emit_keeping_errno(void)
{
	errno = ENOENT;
	log_err("x");
	assert_int_equal(errno, ENOENT);
}

static void
test_errno_kept(void **state)
{
	(void)state;
	assert_string_equal(capture(STDERR_ITSELF, "", emit_keeping_errno),
	                    "<3>x\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_priorities),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_malformed_stream),
		cmocka_unit_test(test_long_line_cut),
		cmocka_unit_test(test_errno_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
