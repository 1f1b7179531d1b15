/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/notify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "server/clients.h"
#include "server/metrics.h"

/* One event: its fields, then its JSON line; a single datagram well
   under what a socket buffer holds, so it arrives whole or not at all. */
#define NOTIFY_MESSAGE_MAX 4096
#define NOTIFY_RUNNING_MAX 64
#define NOTIFY_EVENT_MAX 16

struct message_head {
	char event[NOTIFY_EVENT_MAX];
	char client[CLIENT_NAME_MAX + 1];
	char address[INET6_ADDRSTRLEN];
};

/* The server's end of the socket to the helper. */
static int notify_fd = -1;
static bool helper_gone;
/* When the server last logged an event it could not hand over, in s. */
static long long dropped_logged;

/* ------------------------------------------------------------ server side */

static void
dropped_here(const char *event)
{
	long long now = (long long)(now_usec() / 1000000), last;

	metrics_notify_dropped(1);
	last = __atomic_load_n(&dropped_logged, __ATOMIC_RELAXED);
	/* Once a minute at most: a flood of denials must not become a
	   flood of log lines. */
	if (now - last >= 60 &&
	    __atomic_compare_exchange_n(&dropped_logged, &last, now, false,
	                                __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		log_warn("notify: the helper is behind: a %s event was "
		         "dropped (tether_notify_dropped_total counts them)",
		         event);
}

void
notify_event(const struct audit_event *e, const char *address,
             const char *json, size_t len)
{
	char msg[NOTIFY_MESSAGE_MAX];
	struct message_head h;
	int fd = __atomic_load_n(&notify_fd, __ATOMIC_ACQUIRE);

	if (fd < 0)
		return;
	if (len > sizeof(msg) - sizeof(h)) {
		dropped_here(e->event);
		return;
	}
	memset(&h, 0, sizeof(h));
	snprintf(h.event, sizeof(h.event), "%s", e->event);
	snprintf(h.client, sizeof(h.client), "%s", e->client ? e->client : "");
	snprintf(h.address, sizeof(h.address), "%s", address);
	memcpy(msg, &h, sizeof(h));
	memcpy(msg + sizeof(h), json, len);
	if (send(fd, msg, sizeof(h) + len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		dropped_here(e->event);
}

int
notify_report_fd(void)
{
	return helper_gone ? -1 : notify_fd;
}

void
notify_read_reports(void)
{
	uint32_t n;
	ssize_t got;

	for (unsigned i = 0; i < 64; i++) {
		got = recv(notify_fd, &n, sizeof(n), MSG_DONTWAIT);
		if (got == (ssize_t)sizeof(n)) {
			metrics_notify_dropped(n);
			continue;
		}
		if (got == 0) {
			log_err("notify: the helper exited: no program is run "
			        "for events from now on");
			helper_gone = true;
		}
		return;
	}
}

void
notify_stop(void)
{
	int fd = __atomic_exchange_n(&notify_fd, -1, __ATOMIC_ACQ_REL);

	if (fd >= 0)
		close(fd);
}

/* ------------------------------------------------------------ helper side */

struct run {
	pid_t pid;			/* 0: a free slot */
	unsigned long long deadline;	/* now_usec() */
	bool killed;
	char event[NOTIFY_EVENT_MAX];
};

struct helper {
	const struct notify_config *cfg;
	int sock;
	int sigfd;
	bool eof;			/* the server closed its end */
	struct run runs[NOTIFY_RUNNING_MAX];
	unsigned running;
	uint32_t dropped;		/* not yet reported to the server */
	uint32_t dropped_unlogged;
	unsigned long long logged;	/* when drops were last logged */
};

/* The program's environment: the event's fields, and a PATH for a
   script's commands. */
static void
environment(const struct message_head *h, char env[3][128], char *envp[5])
{
	snprintf(env[0], sizeof(env[0]), "TETHER_EVENT=%s", h->event);
	snprintf(env[1], sizeof(env[1]), "TETHER_CLIENT=%s", h->client);
	snprintf(env[2], sizeof(env[2]), "TETHER_ADDRESS=%s", h->address);
	envp[0] = env[0];
	envp[1] = env[1];
	envp[2] = env[2];
	envp[3] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
	          "/sbin:/bin";
	envp[4] = NULL;
}

/* No signal blocked or ignored as the helper has them, and a process
   group of its own, so that the timeout kills what it started too. */
static int
spawn_attributes(posix_spawnattr_t *a)
{
	sigset_t none, all;

	sigemptyset(&none);
	sigfillset(&all);
	if (posix_spawnattr_init(a) != 0)
		return -ENOMEM;
	if (posix_spawnattr_setflags(a, POSIX_SPAWN_SETSIGMASK |
	                             POSIX_SPAWN_SETSIGDEF |
	                             POSIX_SPAWN_SETPGROUP) != 0 ||
	    posix_spawnattr_setsigmask(a, &none) != 0 ||
	    posix_spawnattr_setsigdefault(a, &all) != 0 ||
	    posix_spawnattr_setpgroup(a, 0) != 0) {
		posix_spawnattr_destroy(a);
		return -EINVAL;
	}
	return 0;
}

/* Starts the program with json on its standard input. */
static int
spawn(struct helper *hp, struct run *run, const struct message_head *h,
      const char *json, size_t len)
{
	char *argv[] = { (char *)hp->cfg->program, NULL }, env[3][128], *envp[5];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int in[2], r;

	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	environment(h, env, envp);
	r = spawn_attributes(&attr);
	if (r == 0 && posix_spawn_file_actions_init(&fa) != 0) {
		posix_spawnattr_destroy(&attr);
		r = -ENOMEM;
	}
	if (r == 0) {
		r = -posix_spawn_file_actions_adddup2(&fa, in[0], 0);
		if (r == 0)
			r = -posix_spawn(&run->pid, hp->cfg->program, &fa, &attr,
			                 argv, envp);
		posix_spawn_file_actions_destroy(&fa);
		posix_spawnattr_destroy(&attr);
	}
	close(in[0]);
	/* A line of at most a few KiB fits the pipe: never waits on a
	   program that does not read. */
	if (r == 0 && fcntl(in[1], F_SETFL, O_NONBLOCK) == 0 &&
	    (write(in[1], json, len) != (ssize_t)len || write(in[1], "\n", 1) != 1))
		log_warn("notify: %s did not take the whole event on its "
		         "standard input", hp->cfg->program);
	close(in[1]);
	if (r < 0) {
		run->pid = 0;
		return r;
	}
	run->deadline = now_usec() + hp->cfg->timeout * 1000000ULL;
	run->killed = false;
	snprintf(run->event, sizeof(run->event), "%s", h->event);
	hp->running++;
	return 0;
}

static struct run *
free_run(struct helper *hp)
{
	for (unsigned i = 0; i < hp->cfg->max_running; i++)
		if (hp->runs[i].pid == 0)
			return &hp->runs[i];
	return NULL;
}

/* One message from the server: a program run for it, or a drop. */
static void
take_event(struct helper *hp, const char *msg, size_t n)
{
	struct message_head h;
	struct run *run;
	int r;

	if (n < sizeof(h))
		return;
	memcpy(&h, msg, sizeof(h));
	h.event[sizeof(h.event) - 1] = '\0';
	h.client[sizeof(h.client) - 1] = '\0';
	h.address[sizeof(h.address) - 1] = '\0';
	run = free_run(hp);
	if (!run) {
		hp->dropped++;
		hp->dropped_unlogged++;
		return;
	}
	r = spawn(hp, run, &h, msg + sizeof(h), n - sizeof(h));
	if (r < 0)
		log_warn("notify: cannot run %s for a %s event: %s",
		         hp->cfg->program, h.event, strerror(-r));
}

static void
read_events(struct helper *hp)
{
	char msg[NOTIFY_MESSAGE_MAX];
	ssize_t n;

	for (unsigned i = 0; i < 256; i++) {
		n = recv(hp->sock, msg, sizeof(msg), MSG_DONTWAIT);
		if (n == 0)
			hp->eof = true;
		if (n <= 0)
			return;
		take_event(hp, msg, (size_t)n);
	}
}

static void
log_exit(const struct helper *hp, const struct run *run, int status)
{
	if (run->killed)
		return;
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		log_warn("notify: %s exited with status %d for a %s event",
		         hp->cfg->program, WEXITSTATUS(status), run->event);
	else if (WIFSIGNALED(status))
		log_warn("notify: %s was killed by signal %d for a %s event",
		         hp->cfg->program, WTERMSIG(status), run->event);
}

static void
reap(struct helper *hp)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (unsigned i = 0; i < hp->cfg->max_running; i++) {
			struct run *run = &hp->runs[i];

			if (run->pid != pid)
				continue;
			log_exit(hp, run, status);
			run->pid = 0;
			hp->running--;
		}
	}
}

/* Kills the groups past their deadline (every one with all); returns
   the milliseconds to the next deadline, or -1 for none. */
static int
kill_overdue(struct helper *hp, bool all)
{
	unsigned long long now = now_usec(), next = 0;

	for (unsigned i = 0; i < hp->cfg->max_running; i++) {
		struct run *run = &hp->runs[i];

		if (run->pid == 0 || run->killed)
			continue;
		if (all || now >= run->deadline) {
			kill(-run->pid, SIGKILL);
			run->killed = true;
			if (!all)
				log_warn("notify: %s still ran after %u s for a "
				         "%s event: killed", hp->cfg->program,
				         hp->cfg->timeout, run->event);
		} else if (!next || run->deadline < next) {
			next = run->deadline;
		}
	}
	return next ? (int)((next - now) / 1000 + 1) : -1;
}

/* Drops are reported to the server for its metrics, and logged once a
   second at most. Returns the milliseconds until the next log. */
static int
report_drops(struct helper *hp)
{
	unsigned long long now = now_usec();

	if (hp->dropped && send(hp->sock, &hp->dropped, sizeof(hp->dropped),
	                        MSG_DONTWAIT | MSG_NOSIGNAL) ==
	                   (ssize_t)sizeof(hp->dropped))
		hp->dropped = 0;
	if (!hp->dropped_unlogged)
		return -1;
	if (now - hp->logged < 1000000)
		return (int)((hp->logged + 1000000 - now) / 1000 + 1);
	log_warn("notify: %u event%s dropped: %u programs were running, the "
	         "most at once", hp->dropped_unlogged,
	         hp->dropped_unlogged == 1 ? "" : "s", hp->cfg->max_running);
	hp->dropped_unlogged = 0;
	hp->logged = now;
	return -1;
}

static int
earliest(int a, int b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

/* Returns true on SIGTERM or SIGINT. */
static bool
read_signals(struct helper *hp)
{
	struct signalfd_siginfo si;
	bool stop = false;

	while (read(hp->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		stop |= si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT;
	return stop;
}

static void __attribute__((noreturn))
helper_loop(struct helper *hp)
{
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = hp->eof ? -1 : hp->sock, .events = POLLIN },
			{ .fd = hp->sigfd, .events = POLLIN },
		};
		int wait = earliest(kill_overdue(hp, false), report_drops(hp));

		if (hp->eof && hp->running == 0)
			_exit(0);
		if (poll(pfd, 2, wait) < 0 && errno != EINTR)
			_exit(1);
		if (pfd[1].revents & POLLIN && read_signals(hp)) {
			kill_overdue(hp, true);
			hp->eof = true;
		}
		reap(hp);
		if (pfd[0].revents & (POLLIN | POLLHUP))
			read_events(hp);
	}
}

/* Keeps standard input, output and error and the socket (as fd 3):
   nothing of the server's, no listening socket above all, reaches a
   program. */
static int
keep_only(int sock)
{
	struct rlimit rl;

	if (sock != 3 && (dup2(sock, 3) < 0 || close(sock) < 0))
		return -errno;
	/* dup2 cleared it: without, every program would hold the socket. */
	if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	if (close_range(4, ~0U, 0) == 0)
		return 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	for (rlim_t fd = 4; fd < rl.rlim_cur && fd < 1048576; fd++)
		close((int)fd);
	return 0;
}

static void __attribute__((noreturn))
helper_main(int sock, const struct notify_config *cfg)
{
	struct helper hp = { .cfg = cfg, .sock = 3 };
	sigset_t set;

	if (keep_only(sock) < 0)
		_exit(1);
	/* Told apart from the server in ps and the journal. */
	prctl(PR_SET_NAME, "tetherd-notify", 0, 0, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		_exit(1);
	hp.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (hp.sigfd < 0)
		_exit(1);
	helper_loop(&hp);
}

int
notify_start(const struct notify_config *cfg)
{
	int sv[2];
	pid_t pid;

	if (!cfg->program)
		return 0;
	if (access(cfg->program, X_OK) < 0) {
		int r = -errno;

		log_err("--notify %s: %s", cfg->program, strerror(-r));
		return r;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		int r = -errno;

		log_err("notify: cannot make a socket: %s", strerror(-r));
		return r;
	}
	pid = fork();
	if (pid < 0) {
		log_err("notify: cannot start the helper: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -EAGAIN;
	}
	if (pid == 0) {
		close(sv[0]);
		helper_main(sv[1], cfg);
	}
	close(sv[1]);
	__atomic_store_n(&notify_fd, sv[0], __ATOMIC_RELEASE);
	return 0;
}
