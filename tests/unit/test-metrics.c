/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/clients.h"
#include "server/metrics.h"

/* The exposition as text; free() it. */
static char *
scrape(void)
{
	struct metrics_gauges g = { .keys_advertised = 2, .keys_total = 3 };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(metrics_write(f, &g), 0);
	assert_int_equal(fclose(f), 0);
	return text;
}

/* The sample of a series named exactly, or -1 when absent. */
static long long
sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return atoll(p + n + 1);
	return -1;
}

static void
test_counts(void **state)
{
	char *t;

	(void)state;
	metrics_reset();
	metrics_recovery("ok", "web1");
	metrics_recovery("ok", "web1");
	metrics_recovery("failed", "web1");
	metrics_recovery("denied", NULL);
	metrics_recovery("denied", "");
	metrics_recovery("no such outcome", "web1");
	metrics_denial("wrong credentials");
	metrics_denial("something new");
	metrics_latency(METRICS_ROUTE_REC, 700);	/* 0.0007 s */
	metrics_latency(METRICS_ROUTE_REC, 9000000);	/* past every bound */
	metrics_connection(true);
	metrics_connection(true);
	metrics_connection(false);
	t = scrape();
	assert_int_equal(sample(t, "tether_recoveries_total{outcome=\"ok\",client=\"web1\"}"), 2);
	assert_int_equal(sample(t, "tether_recoveries_total{outcome=\"failed\",client=\"web1\"}"), 1);
	assert_int_equal(sample(t, "tether_recoveries_total{outcome=\"denied\",client=\"\"}"), 2);
	assert_int_equal(sample(t, "tether_denials_total{reason=\"wrong credentials\"}"), 1);
	assert_int_equal(sample(t, "tether_denials_total{reason=\"other\"}"), 1);
	assert_int_equal(sample(t, "tether_request_duration_seconds_bucket{route=\"rec\",le=\"0.000500\"}"), 0);
	assert_int_equal(sample(t, "tether_request_duration_seconds_bucket{route=\"rec\",le=\"0.001000\"}"), 1);
	assert_int_equal(sample(t, "tether_request_duration_seconds_bucket{route=\"rec\",le=\"2.500000\"}"), 1);
	assert_int_equal(sample(t, "tether_request_duration_seconds_bucket{route=\"rec\",le=\"+Inf\"}"), 2);
	assert_int_equal(sample(t, "tether_request_duration_seconds_count{route=\"rec\"}"), 2);
	assert_non_null(strstr(t, "tether_request_duration_seconds_sum{route=\"rec\"} 9.000700\n"));
	assert_int_equal(sample(t, "tether_open_connections"), 1);
	assert_int_equal(sample(t, "tether_keys_advertised"), 2);
	assert_int_equal(sample(t, "tether_keys"), 3);
	assert_int_equal(sample(t, "tether_last_reload_time_seconds"), 0);
	free(t);
	metrics_reload(false);
	t = scrape();
	assert_int_equal(sample(t, "tether_last_reload_success"), 0);
	assert_int_equal(sample(t, "tether_reloads_total{result=\"failed\"}"), 1);
	assert_true(sample(t, "tether_last_reload_time_seconds") > 0);
	free(t);
}

/* More names than the table has room for: the rest are counted with no
   client, none is lost. */
static void
test_table_full(void **state)
{
	const unsigned names = 3 * CLIENTS_MAX;
	char name[32], *t;
	long long anonymous, named = 0;

	(void)state;
	metrics_reset();
	for (unsigned i = 0; i < names; i++) {
		snprintf(name, sizeof(name), "client-%u", i);
		metrics_recovery("ok", name);
	}
	t = scrape();
	anonymous = sample(t, "tether_recoveries_total{outcome=\"ok\",client=\"\"}");
	for (const char *p = strstr(t, "{outcome=\"ok\",client=\"client-"); p;
	     p = strstr(p + 1, "{outcome=\"ok\",client=\"client-"))
		named += atoll(strchr(p, ' ') + 1);
	assert_true(anonymous > 0);
	assert_int_equal(named + anonymous, names);
	free(t);
}

#define THREADS 8
#define PER_THREAD 20000

static void *
count_some(void *arg)
{
	char name[16];

	snprintf(name, sizeof(name), "c%u", (unsigned)(uintptr_t)arg % 3);
	for (unsigned i = 0; i < PER_THREAD; i++) {
		metrics_recovery("ok", name);
		metrics_denial("recovery rate limit");
	}
	return NULL;
}

/* Threads that count at once, some the same names, lose no count. */
static void
test_concurrent(void **state)
{
	pthread_t th[THREADS];
	long long total = 0;
	char series[96], *t;

	(void)state;
	metrics_reset();
	for (uintptr_t i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, count_some,
		                                (void *)i), 0);
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	t = scrape();
	for (unsigned c = 0; c < 3; c++) {
		snprintf(series, sizeof(series),
		         "tether_recoveries_total{outcome=\"ok\",client=\"c%u\"}", c);
		total += sample(t, series);
	}
	assert_int_equal(total, THREADS * PER_THREAD);
	assert_int_equal(sample(t, "tether_denials_total{reason=\"recovery rate limit\"}"),
	                 THREADS * PER_THREAD);
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
