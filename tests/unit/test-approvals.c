/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/approvals.h"

static const char good[] =
	"box pending 192.0.2.7 abc_DEF-1 1000 1060\n"
	"web1 once 900\n"
	"db until 5000\n"
	"old denied 800\n"
	"box seen 1050\n";

static void
test_round_trip(void **state)
{
	struct approval_list l;
	size_t line;
	char *text;

	(void)state;
	assert_int_equal(approvals_parse(good, strlen(good), &l, &line), 0);
	assert_int_equal(l.n, 5);
	assert_int_equal(approvals_find(&l, "box", true)->last, 1050);
	assert_int_equal(approvals_find(&l, "box", false)->state,
	                 APPROVAL_PENDING);
	assert_int_equal(l.a[0].state, APPROVAL_PENDING);
	assert_string_equal(l.a[0].address, "192.0.2.7");
	assert_string_equal(l.a[0].kid, "abc_DEF-1");
	assert_int_equal(l.a[0].first, 1000);
	assert_int_equal(l.a[0].last, 1060);
	assert_int_equal(approvals_find(&l, "db", false)->last, 5000);
	text = approvals_format(&l);
	assert_string_equal(text, good);
	free(text);
	approvals_free(&l);
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
		"box pending 192.0.2.7 kid 1 2 3\n",	/* a word too many */
		"box pending 192.0.2.7 kid 1\n",	/* one too few */
		"box pending 192.0.2.7; kid 1 2\n",	/* not an address */
		"box pending 192.0.2.7 k/d 1 2\n",	/* not a kid */
		"box once -1\n",
		"box until 12x\n",
		"box approved 1\n",
		"bad/name once 1\n",
		"box once 1\nbox denied 2\n",		/* twice */
		"box seen 1\nbox seen 2\n",
		"box  once 1\n",
	};
	struct approval_list l;
	size_t line;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(approvals_parse(bad[i], strlen(bad[i]), &l,
		                                 &line), -EINVAL);
}

/* A clients path in a directory of its own, and its approvals file. */
struct dir {
	char dir[64], clients[96], approvals[128];
};

static void
make_dir(struct dir *d)
{
	snprintf(d->dir, sizeof(d->dir), "%s/approvals.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->clients, sizeof(d->clients), "%s/clients", d->dir);
	snprintf(d->approvals, sizeof(d->approvals), "%s/clients.approvals",
	         d->dir);
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* A recovery by a client with approval=manual and no heartbeat. */
static enum approval_decision
decide_at(const char *clients, const char *name, const char *address,
          const char *kid, long long now)
{
	struct approval_ask ask = { .name = name, .address = address,
	                            .kid = kid, .approval = true, .now = now };

	return approvals_decide(clients, &ask);
}

/* The same, with its key ready to be sent. */
static enum approval_decision
use_once_at(const char *clients, const char *name, long long now)
{
	struct approval_ask ask = { .name = name, .address = "192.0.2.7",
	                            .kid = "k1", .approval = true, .now = now };

	return approvals_use_once(clients, &ask);
}

static void
test_decide(void **state)
{
	struct dir d;

	(void)state;
	make_dir(&d);
	/* Nothing approves by default. */
	assert_int_equal(decide_at(d.clients, "box", "192.0.2.7", "k1",
	                                  1000), APPROVAL_HELD);
	assert_int_equal(decide_at(d.clients, "box", "192.0.2.8", "k2",
	                                  1010), APPROVAL_HELD);
	assert_int_equal(approvals_count_pending(d.clients), 1);
	/* The first sighting stays, the last is the latest. */
	write_text(d.approvals, "box once 1020\n");
	/* A "once" lets a recovery on without being used up by it: the
	   request may yet fail. */
	assert_int_equal(decide_at(d.clients, "box", "192.0.2.7", "k1",
	                                  1030), APPROVAL_GRANTED_ONCE);
	assert_int_equal(decide_at(d.clients, "box", "192.0.2.7", "k1",
	                                  1031), APPROVAL_GRANTED_ONCE);
	/* Used up by the one whose key is sent. */
	assert_int_equal(use_once_at(d.clients, "box", 1032), APPROVAL_GRANTED);
	assert_int_equal(decide_at(d.clients, "box", "192.0.2.7", "k1",
	                                  1040), APPROVAL_HELD);
	/* A second one let on meanwhile is held at its key. */
	assert_int_equal(use_once_at(d.clients, "box", 1041), APPROVAL_HELD);
	write_text(d.approvals, "box until 2000\n");
	assert_int_equal(decide_at(d.clients, "box", "192.0.2.7", "k1",
	                                  1999), APPROVAL_GRANTED);
	assert_int_equal(decide_at(d.clients, "box", "192.0.2.7", "k1",
	                                  1999), APPROVAL_GRANTED);
	assert_int_equal(decide_at(d.clients, "box", "192.0.2.7", "k1",
	                                  2000), APPROVAL_HELD);
	write_text(d.approvals, "box denied 2100\n");
	assert_int_equal(decide_at(d.clients, "box", "192.0.2.7", "k1",
	                                  2200), APPROVAL_REFUSED);
	/* Another client's approval is not this one's. */
	write_text(d.approvals, "web1 until 9000\n");
	assert_int_equal(decide_at(d.clients, "box", "192.0.2.7", "k1",
	                                  2300), APPROVAL_HELD);
	/* Fails closed. */
	write_text(d.approvals, "box until soon\n");
	assert_int_equal(decide_at(d.clients, "box", "192.0.2.7", "k1",
	                                  2400), APPROVAL_UNAVAILABLE);
	assert_int_equal(approvals_count_pending(d.clients), 0);
	unlink(d.approvals);
	assert_int_equal(rmdir(d.dir), 0);
}

/* A pending line keeps when it was first seen. */
static void
test_first_seen(void **state)
{
	struct dir d;
	struct approval_list l;
	char *text = NULL;
	size_t len, line;
	FILE *f;

	(void)state;
	make_dir(&d);
	decide_at(d.clients, "box", "192.0.2.7", "k1", 1000);
	decide_at(d.clients, "box", "2001:db8::1", "k2", 1060);
	f = fopen(d.approvals, "r");
	assert_non_null(f);
	assert_true(getdelim(&text, &len, '\0', f) > 0);
	fclose(f);
	assert_int_equal(approvals_parse(text, strlen(text), &l, &line), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.a[0].address, "2001:db8::1");
	assert_string_equal(l.a[0].kid, "k2");
	assert_int_equal(l.a[0].first, 1000);
	assert_int_equal(l.a[0].last, 1060);
	approvals_free(&l);
	free(text);
	unlink(d.approvals);
	assert_int_equal(rmdir(d.dir), 0);
}

/* A client with a heartbeat period of 100 s and no approval=manual. */
static enum approval_decision
presence_at(const char *clients, bool recovery, long long now)
{
	struct approval_ask ask = { .name = "pc", .address = "192.0.2.7",
	                            .kid = "k1", .heartbeat = 100, .now = now };

	return recovery ? approvals_decide(clients, &ask)
	                : approvals_heartbeat(clients, &ask);
}

static void
test_presence(void **state)
{
	struct approval_ask ask = { .name = "pc", .address = "192.0.2.7",
	                            .kid = "k1", .heartbeat = 100 };
	struct dir d;

	(void)state;
	make_dir(&d);
	/* Not held before its first heartbeat, nor while it is recent. */
	assert_int_equal(presence_at(d.clients, true, 1000), APPROVAL_GRANTED);
	assert_int_equal(presence_at(d.clients, false, 1000), APPROVAL_GRANTED);
	assert_int_equal(presence_at(d.clients, true, 1100), APPROVAL_GRANTED);
	assert_int_equal(presence_at(d.clients, false, 1100), APPROVAL_GRANTED);
	assert_int_equal(approvals_count_pending(d.clients), 0);
	/* Past the period: refused, listed, and no heartbeat brings it back. */
	assert_int_equal(presence_at(d.clients, true, 1201), APPROVAL_EXPIRED);
	assert_int_equal(approvals_count_pending(d.clients), 1);
	assert_int_equal(presence_at(d.clients, false, 1202), APPROVAL_EXPIRED);
	assert_int_equal(presence_at(d.clients, true, 1203), APPROVAL_EXPIRED);
	/* An approval once lets one recovery through. */
	write_text(d.approvals, "pc seen 1100\npc once 1300\n");
	assert_int_equal(presence_at(d.clients, true, 1301),
	                 APPROVAL_GRANTED_ONCE);
	ask.now = 1301;
	assert_int_equal(approvals_use_once(d.clients, &ask), APPROVAL_GRANTED);
	assert_int_equal(presence_at(d.clients, true, 1302), APPROVAL_EXPIRED);
	/* A denial outweighs a fresh heartbeat. */
	write_text(d.approvals, "pc seen 1300\npc denied 1300\n");
	assert_int_equal(presence_at(d.clients, true, 1301), APPROVAL_REFUSED);
	unlink(d.approvals);
	assert_int_equal(rmdir(d.dir), 0);
}

/* Whether some process waits for a lock now: /proc/locks marks each
   waiter with "->". */
static bool
lock_waited_for(void)
{
	char line[256];
	bool waiting = false;
	FILE *f = fopen("/proc/locks", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		waiting |= strstr(line, "->") != NULL;
	fclose(f);
	return waiting;
}

/*
 * A decision waits for the lock another writer holds, and then sees what
 * that writer wrote: neither's change is lost. The child decides while
 * the parent holds the lock with "denied" on file; the parent, once the
 * child waits, writes "once" and lets go: the child must be granted.
 */
static void
test_lock(void **state)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	struct approvals_file f;
	struct dir d;
	int status, tries = 0;
	pid_t pid;

	(void)state;
	make_dir(&d);
	write_text(d.approvals, "box denied 1\n");
	assert_int_equal(approvals_lock(d.clients, &f), 0);
	pid = fork();
	assert_true(pid >= 0);
	/* The child lets go of the parent's lock: flock(2) holds it while
	   any descriptor of the open directory does. */
	if (pid == 0 && close(f.dirfd) == 0)
		_exit(use_once_at(d.clients, "box", 1000) == APPROVAL_GRANTED ?
		      0 : 1);
	if (pid == 0)
		_exit(2);
	/* Bounded: 1000 looks, 10 s; a child that never waits fails. */
	while (!lock_waited_for() && tries++ < 1000)
		nanosleep(&tick, NULL);
	assert_true(tries < 1000);
	write_text(d.approvals, "box once 2\n");
	approvals_unlock(&f);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	unlink(d.approvals);
	assert_int_equal(rmdir(d.dir), 0);
}

/* The file's text now, "" when there is none. */
static char *
file_text(const char *path)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return strdup("");
	assert_true(getdelim(&text, &len, '\0', f) > 0);
	fclose(f);
	return text;
}

static void
assert_file(const char *path, const char *want)
{
	char *text = file_text(path);

	assert_string_equal(text, want);
	free(text);
}

/* The lines of removed clients go, those of the others stay as they
   were; a file with nothing to forget is left alone. */
static void
test_forget(void **state)
{
	static struct client keep_c[] = { { .name = "box" }, { .name = "db" } };
	const struct client_list keep = { .c = keep_c, .n = 2 };
	struct stat before, after;
	struct dir d;

	(void)state;
	make_dir(&d);
	/* No file: none made. */
	assert_int_equal(approvals_forget(d.clients, &keep, NULL, (uid_t)-1,
	                                  (gid_t)-1), 0);
	assert_int_equal(access(d.approvals, F_OK), -1);
	write_text(d.approvals, good);
	assert_int_equal(approvals_forget(d.clients, &keep, NULL, (uid_t)-1,
	                                  (gid_t)-1), 0);
	assert_file(d.approvals, "box pending 192.0.2.7 abc_DEF-1 1000 1060\n"
	                         "db until 5000\n"
	                         "box seen 1050\n");
	assert_int_equal(stat(d.approvals, &before), 0);
	assert_int_equal(approvals_forget(d.clients, &keep, NULL, (uid_t)-1,
	                                  (gid_t)-1), 0);
	assert_int_equal(stat(d.approvals, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	/* By name: both of its lines. */
	assert_int_equal(approvals_forget(d.clients, NULL, "box", (uid_t)-1,
	                                  (gid_t)-1), 0);
	assert_file(d.approvals, "db until 5000\n");
	/* A name added again starts held, as a new client does. */
	write_text(d.approvals, "box until 5000\n");
	assert_int_equal(approvals_forget(d.clients, NULL, "box", (uid_t)-1,
	                                  (gid_t)-1), 0);
	assert_int_equal(decide_at(d.clients, "box", "192.0.2.7", "k1", 1000),
	                 APPROVAL_HELD);
	/* Unreadable: an error, and the file as it was. */
	write_text(d.approvals, "box until soon\n");
	assert_int_equal(approvals_forget(d.clients, &keep, NULL, (uid_t)-1,
	                                  (gid_t)-1), -EINVAL);
	assert_file(d.approvals, "box until soon\n");
	unlink(d.approvals);
	assert_int_equal(rmdir(d.dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_first_seen),
		cmocka_unit_test(test_lock),
		cmocka_unit_test(test_presence),
		cmocka_unit_test(test_forget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
