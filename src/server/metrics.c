/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/metrics.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "server/clients.h"

#define RELAXED __ATOMIC_RELAXED

static const char *const outcomes[] = { "ok", "failed", "denied", "pending" };
#define OUTCOMES ARRAY_SIZE(outcomes)

/* Every reason the audit gives a refusal, and "other" last. */
static const char *const reasons[] = {
	"address not allowed", "no credentials", "wrong credentials",
	"client disabled", "client address not allowed",
	"clients file unreadable", "too many failed authentications",
	"recovery rate limit", "ambiguous body length",
	"transfer coding not supported", "approval denied",
	"approvals file unreadable", "presence expired", "other",
};
#define REASONS ARRAY_SIZE(reasons)

static const char *const routes[METRICS_ROUTES] = { "adv", "rec", "other" };

/* Upper bounds in microseconds; the last bucket is +Inf. */
static const unsigned long long bounds_us[] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000,
};
#define BUCKETS (ARRAY_SIZE(bounds_us) + 1)

/*
 * Clients by name in an open-addressed table that only grows: a slot is
 * claimed once (EMPTY to CLAIMED by compare-and-swap), its name written,
 * then published (READY, with release order), and never changes again.
 * Twice the clients a file may hold leaves room for names removed and
 * added while the server runs.
 */
#define CLIENT_SLOTS (2 * CLIENTS_MAX)
/* Probes before a name is given up on and counted with no client. */
#define CLIENT_PROBES 64

enum { SLOT_EMPTY, SLOT_CLAIMED, SLOT_READY };

struct client_slot {
	int state;
	char name[CLIENT_NAME_MAX + 1];
	unsigned long long recoveries[OUTCOMES];
};

static struct {
	unsigned long long anonymous[OUTCOMES];	/* no client */
	unsigned long long denials[REASONS];
	unsigned long long buckets[METRICS_ROUTES][BUCKETS];
	unsigned long long sum_us[METRICS_ROUTES];
	long long connections;
	unsigned long long reloads[2];		/* failed, ok */
	long long reload_time;			/* seconds since the epoch */
	int reload_ok;
	long long start_time;
	unsigned long long notify_dropped;
	struct client_slot clients[CLIENT_SLOTS];
} m;

static void
add(unsigned long long *counter)
{
	__atomic_add_fetch(counter, 1, RELAXED);
}

static unsigned long long
get(const unsigned long long *counter)
{
	return __atomic_load_n(counter, RELAXED);
}

static size_t
index_of(const char *const *table, size_t n, const char *word)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (strcmp(table[i], word) == 0)
			return i;
	return n - 1;
}

static uint32_t
name_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h;
}

/* The slot for name, claimed now if it has none; NULL when full. */
static struct client_slot *
client_slot(const char *name)
{
	size_t len = strnlen(name, CLIENT_NAME_MAX + 1);
	uint32_t h = name_hash(name);

	if (len > CLIENT_NAME_MAX)
		return NULL;
	for (unsigned i = 0; i < CLIENT_PROBES; i++) {
		struct client_slot *s = &m.clients[(h + i) % CLIENT_SLOTS];
		int state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);

		if (state == SLOT_EMPTY) {
			int expected = SLOT_EMPTY;

			if (__atomic_compare_exchange_n(&s->state, &expected,
			                                SLOT_CLAIMED, false,
			                                __ATOMIC_ACQUIRE,
			                                __ATOMIC_ACQUIRE)) {
				memcpy(s->name, name, len + 1);
				__atomic_store_n(&s->state, SLOT_READY,
				                 __ATOMIC_RELEASE);
				return s;
			}
			state = expected;
		}
		/* Another thread is writing this slot's name: a copy of at
		   most 65 bytes, so waiting for it is short. */
		while (state == SLOT_CLAIMED)
			state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		if (strcmp(s->name, name) == 0)
			return s;
	}
	return NULL;
}

void
metrics_recovery(const char *outcome, const char *client)
{
	size_t o = index_of(outcomes, OUTCOMES + 1, outcome);
	struct client_slot *s = NULL;

	/* index_of's last entry is its fallback: one past the table here. */
	if (o >= OUTCOMES)
		return;
	if (client && *client)
		s = client_slot(client);
	add(s ? &s->recoveries[o] : &m.anonymous[o]);
}

void
metrics_denial(const char *reason)
{
	add(&m.denials[index_of(reasons, REASONS, reason ? reason : "")]);
}

void
metrics_latency(enum metrics_route route, unsigned long long usec)
{
	size_t b = 0;

	if ((unsigned)route >= METRICS_ROUTES)
		route = METRICS_ROUTE_OTHER;
	while (b < ARRAY_SIZE(bounds_us) && usec > bounds_us[b])
		b++;
	add(&m.buckets[route][b]);
	__atomic_add_fetch(&m.sum_us[route], usec, RELAXED);
}

void
metrics_connection(bool opened)
{
	__atomic_add_fetch(&m.connections, opened ? 1 : -1, RELAXED);
}

void
metrics_reload(bool ok)
{
	add(&m.reloads[ok]);
	__atomic_store_n(&m.reload_time, (long long)time(NULL), RELAXED);
	__atomic_store_n(&m.reload_ok, ok, RELAXED);
}

void
metrics_notify_dropped(unsigned n)
{
	__atomic_add_fetch(&m.notify_dropped, n, RELAXED);
}

void
metrics_reset(void)
{
	memset(&m, 0, sizeof(m));
	m.start_time = (long long)time(NULL);
}

/* A label value: backslash, quote and newline escaped (names and
   reasons hold none today, but the format demands it). */
static void
write_label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void
header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
write_recoveries(FILE *f)
{
	header(f, "tether_recoveries_total", "counter",
	       "Recoveries by outcome and authenticated client.");
	for (size_t o = 0; o < OUTCOMES; o++)
		fprintf(f, "tether_recoveries_total{outcome=\"%s\",client=\"\"} "
		        "%llu\n", outcomes[o], get(&m.anonymous[o]));
	for (size_t i = 0; i < CLIENT_SLOTS; i++) {
		const struct client_slot *s = &m.clients[i];

		if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != SLOT_READY)
			continue;
		for (size_t o = 0; o < OUTCOMES; o++) {
			fprintf(f, "tether_recoveries_total{outcome=\"%s\","
			        "client=\"", outcomes[o]);
			write_label(f, s->name);
			fprintf(f, "\"} %llu\n", get(&s->recoveries[o]));
		}
	}
}

static void
write_denials(FILE *f)
{
	header(f, "tether_denials_total", "counter",
	       "Refused requests by the reason the audit gives.");
	for (size_t i = 0; i < REASONS; i++)
		fprintf(f, "tether_denials_total{reason=\"%s\"} %llu\n",
		        reasons[i], get(&m.denials[i]));
}

static void
write_latency(FILE *f)
{
	header(f, "tether_request_duration_seconds", "histogram",
	       "Time from a request's arrival to its reply.");
	for (size_t r = 0; r < METRICS_ROUTES; r++) {
		unsigned long long total = 0, sum = get(&m.sum_us[r]);

		for (size_t b = 0; b < BUCKETS; b++) {
			total += get(&m.buckets[r][b]);
			if (b < ARRAY_SIZE(bounds_us))
				fprintf(f, "tether_request_duration_seconds_"
				        "bucket{route=\"%s\",le=\"%llu.%06llu\"} "
				        "%llu\n", routes[r], bounds_us[b] / 1000000,
				        bounds_us[b] % 1000000, total);
			else
				fprintf(f, "tether_request_duration_seconds_"
				        "bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
				        routes[r], total);
		}
		fprintf(f, "tether_request_duration_seconds_sum{route=\"%s\"} "
		        "%llu.%06llu\n", routes[r], sum / 1000000, sum % 1000000);
		fprintf(f, "tether_request_duration_seconds_count{route=\"%s\"} "
		        "%llu\n", routes[r], total);
	}
}

static void
gauge(FILE *f, const char *name, const char *help, long long v)
{
	header(f, name, "gauge", help);
	fprintf(f, "%s %lld\n", name, v);
}

static void
write_state(FILE *f, const struct metrics_gauges *g)
{
	gauge(f, "tether_open_connections", "Connections open on the Tang "
	      "listeners.", __atomic_load_n(&m.connections, RELAXED));
	gauge(f, "tether_keys_advertised", "Keys the advertisement carries.",
	      (long long)g->keys_advertised);
	gauge(f, "tether_keys", "Keys in the keys directory, rotated ones "
	      "included.", (long long)g->keys_total);
	if (g->approvals) {
		gauge(f, "tether_approvals_pending", "Recoveries held for an "
		      "operator's approval.", (long long)g->approvals_pending);
		gauge(f, "tether_clients_past_heartbeat", "Clients whose last "
		      "heartbeat is older than their period.",
		      (long long)g->past_heartbeat);
	}
	gauge(f, "tether_start_time_seconds", "When the server started, "
	      "in seconds since the epoch.", m.start_time);
	gauge(f, "tether_last_reload_time_seconds", "When the last reload "
	      "ended, in seconds since the epoch; 0 for none.",
	      __atomic_load_n(&m.reload_time, RELAXED));
	gauge(f, "tether_last_reload_success", "1 when the last reload "
	      "took the new settings, 0 when it kept the running ones or "
	      "none was made.", __atomic_load_n(&m.reload_ok, RELAXED));
	header(f, "tether_reloads_total", "counter", "Reloads by result.");
	fprintf(f, "tether_reloads_total{result=\"ok\"} %llu\n"
	        "tether_reloads_total{result=\"failed\"} %llu\n",
	        get(&m.reloads[1]), get(&m.reloads[0]));
	header(f, "tether_notify_dropped_total", "counter", "Events the "
	       "notify program was not run for: too many were running.");
	fprintf(f, "tether_notify_dropped_total %llu\n", get(&m.notify_dropped));
}

int
metrics_write(FILE *f, const struct metrics_gauges *g)
{
	write_recoveries(f);
	write_denials(f);
	write_latency(f);
	write_state(f, g);
	return ferror(f) ? -EIO : 0;
}
