/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "server/privilege.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <seccomp.h>

#include "common/log.h"
#include "common/util.h"

int
privilege_lookup(const char *name, struct service_user *u)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(name);
	if (!pw) {
		log_err("--user %s: no such user: create it (useradd --system "
		        "--home-dir /var/lib/tether --shell /usr/sbin/nologin "
		        "%s) or name another", name, name);
		return -ENOENT;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		log_err("--user %s: tetherd never serves as root or group root",
		        name);
		return -EPERM;
	}
	u->name = name;
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	return 0;
}

static bool
key_file_name(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".jwk") == 0;
}

/*
 * Calls fn for each regular *.jwk file of the directory, with its status,
 * until fn returns non-zero (returned).
 */
static int
each_key_file(int dirfd, int (*fn)(int dirfd, const char *name,
                                   const struct stat *st, void *arg),
              void *arg)
{
	int fd = dup(dirfd), r = 0;
	struct dirent *e;
	struct stat st;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while (r == 0 && (e = readdir(d))) {
		if (key_file_name(e->d_name) &&
		    fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			r = fn(dirfd, e->d_name, &st, arg);
	}
	closedir(d);
	return r;
}

struct owner_check {
	const char *path;
	const struct service_user *u;
};

/*
 * Root's key files become the service user's: through an fd, so that
 * what changes owner is the file checked, never what a name was swapped
 * for since (a link to a file out of the directory).
 */
/*
 * A file of root's with other names (hard links) is never given to the
 * user: giving it would give them what those name too. Returns -EPERM.
 */
static int
refuse_linked(const char *dir, const char *name, const struct stat *st,
              const struct service_user *u)
{
	log_err("%s%s%s: root's, with %lu hard links: not given to %s, since "
	        "its other names would be too: copy it to a file of its own",
	        dir, name ? "/" : "", name ? name : "",
	        (unsigned long)st->st_nlink, u->name);
	return -EPERM;
}

static int
adopt_file(int dirfd, const char *name, const struct stat *st, void *arg)
{
	const struct owner_check *c = arg;
	struct stat now;
	int fd, r = 0;

	if (st->st_uid != 0)
		return 0;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	            O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &now) < 0)
		r = -errno;
	else if (!S_ISREG(now.st_mode) || now.st_dev != st->st_dev ||
	         now.st_ino != st->st_ino || now.st_nlink != 1)
		r = -EAGAIN;	/* changed since checked: not adopted */
	else if (now.st_uid == 0 && fchown(fd, c->u->uid, c->u->gid) < 0)
		r = -errno;
	close(fd);
	return r;
}

/*
 * A key file the service user could not read after the drop (another
 * user's, as tangd-keygen makes them for _tang) refuses the start, since
 * serving without it would lock its clients out. So does a file of root's
 * with other names (hard links): giving it to the user would give them
 * what those name too, which may be no key at all.
 */
static int
check_file(int dirfd, const char *name, const struct stat *st, void *arg)
{
	const struct owner_check *c = arg;

	(void)dirfd;
	if (st->st_uid == 0 && st->st_nlink > 1) {
		return refuse_linked(c->path, name, st, c->u);
	}
	if (st->st_uid == 0 || st->st_uid == c->u->uid)
		return 0;
	log_err("%s/%s: owned by uid %u, not %s: chown %s the keys, or run "
	        "with --user as its owner", c->path, name, (unsigned)st->st_uid,
	        c->u->name, c->u->name);
	return -EPERM;
}

int
privilege_check_dir(int dirfd, const char *path, const struct service_user *u)
{
	struct stat st;

	if (fstat(dirfd, &st) < 0)
		return -errno;
	if (st.st_uid != 0 && st.st_uid != u->uid) {
		log_err("%s: owned by uid %u, not %s: chown -R %s %s, or run "
		        "with --user as its owner", path, (unsigned)st.st_uid,
		        u->name, u->name, path);
		return -EPERM;
	}
	return each_key_file(dirfd, check_file,
	                     &(struct owner_check){ .path = path, .u = u });
}

int
privilege_adopt_dir(int dirfd, const char *path, const struct service_user *u)
{
	struct stat st;
	int r = privilege_check_dir(dirfd, path, u);

	if (r < 0)
		return r;
	if (fstat(dirfd, &st) < 0)
		return -errno;
	if (st.st_uid == 0 && fchown(dirfd, u->uid, u->gid) < 0)
		return -errno;
	r = each_key_file(dirfd, adopt_file,
	                  &(struct owner_check){ .path = path, .u = u });
	if (r < 0)
		log_err("%s: cannot give its keys to %s: %s", path, u->name,
		        strerror(-r));
	return r;
}

int
privilege_adopt_file(const char *path, const struct service_user *u)
{
	struct stat st;
	int fd, r = 0;

	/* A link is not followed: only the file at that name is given. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	          O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ELOOP ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
	} else if (!S_ISREG(st.st_mode) || st.st_uid != 0) {
		r = 0;
	} else if (st.st_nlink > 1) {
		r = refuse_linked(path, NULL, &st, u);
	} else if (fchown(fd, u->uid, u->gid) < 0) {
		r = -errno;
		log_err("%s: cannot give it to %s: %s", path, u->name,
		        strerror(errno));
	}
	close(fd);
	return r;
}

/*
 * Tried in a child that becomes u as privilege_drop will: whether u may
 * open a file depends on every directory above it, ACLs and mounts, so
 * only the kernel can say. The child exits with the errno it met.
 */
int
privilege_check_readable(const char *path, const struct service_user *u)
{
	int status, fd;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(u->gid) < 0 ||
		    setuid(u->uid) < 0)
			_exit(EPERM);
		fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		_exit(fd >= 0 || errno == ENOENT ? 0 : errno & 0xff);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	log_err("%s: %s cannot read it (%s) and must, to read it again: "
	        "make it and each directory above it reachable by %s", path,
	        u->name, WIFEXITED(status) ? strerror(WEXITSTATUS(status)) :
	        "the check did not finish", u->name);
	return -EACCES;
}

int
privilege_drop(const struct service_user *u)
{
	if (setgroups(0, NULL) < 0 || setgid(u->gid) < 0 || setuid(u->uid) < 0) {
		log_err("cannot become %s: %s", u->name, strerror(errno));
		return -EPERM;
	}
	/* Dropped for good: neither id can come back. */
	if (setuid(0) == 0 || setgid(0) == 0 || geteuid() != u->uid ||
	    getegid() != u->gid) {
		log_err("root could be regained after becoming %s", u->name);
		return -EPERM;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

/*
 * What a running server does: serve sockets from worker threads, read the
 * keys and clients again, append to the audit file, start listeners again
 * on reload. Anything else ends the process.
 */
static const int allowed[] = {
	SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(brk), SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(clone), SCMP_SYS(clone3),
	SCMP_SYS(close), SCMP_SYS(dup), SCMP_SYS(epoll_create1),
	SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_wait),
	SCMP_SYS(eventfd2), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(fcntl), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx),
	SCMP_SYS(futex), SCMP_SYS(getdents64), SCMP_SYS(getpid),
	SCMP_SYS(getrandom), SCMP_SYS(getsockname), SCMP_SYS(getsockopt),
	SCMP_SYS(getpeername), SCMP_SYS(gettid), SCMP_SYS(gettimeofday),
	SCMP_SYS(ioctl), SCMP_SYS(lseek), SCMP_SYS(madvise), SCMP_SYS(mmap),
	SCMP_SYS(mprotect), SCMP_SYS(mremap), SCMP_SYS(munmap),
	SCMP_SYS(nanosleep), SCMP_SYS(openat), SCMP_SYS(pipe2), SCMP_SYS(poll),
	SCMP_SYS(ppoll), SCMP_SYS(pread64), SCMP_SYS(read), SCMP_SYS(readv),
	SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(restart_syscall),
	SCMP_SYS(rseq), SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(sched_getaffinity),
	SCMP_SYS(sched_yield), SCMP_SYS(select), SCMP_SYS(pselect6),
	SCMP_SYS(sendmsg), SCMP_SYS(sendto), SCMP_SYS(set_robust_list),
	SCMP_SYS(setsockopt), SCMP_SYS(shutdown), SCMP_SYS(sigaltstack),
	SCMP_SYS(sysinfo), SCMP_SYS(tgkill), SCMP_SYS(uname), SCMP_SYS(write),
	SCMP_SYS(writev), SCMP_SYS(prlimit64), SCMP_SYS(getuid),
	SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	SCMP_SYS(prctl), SCMP_SYS(readlink), SCMP_SYS(membarrier),
	SCMP_SYS(sched_setaffinity), SCMP_SYS(kill),
	/* GnuTLS reads its configuration again when a reload starts a new
	   HTTPS server. */
	SCMP_SYS(getdents), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
	SCMP_SYS(access), SCMP_SYS(readlinkat), SCMP_SYS(getcpu),
	SCMP_SYS(fadvise64),
	/* A keys directory emptied or replaced gets a new pair, written
	   as any key is (temp file, fsync, rename). */
	SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(fchmod),
	SCMP_SYS(fchmodat), SCMP_SYS(renameat), SCMP_SYS(renameat2),
	SCMP_SYS(unlinkat), SCMP_SYS(flock),
	/* tetherd KEYSDIR run by root: a new key keeps the directory's
	   owner. */
	SCMP_SYS(fchown),
#if defined(__SANITIZE_ADDRESS__)
	/* The leak checker stops the world with ptrace at exit. */
	SCMP_SYS(ptrace), SCMP_SYS(wait4), SCMP_SYS(waitid),
	SCMP_SYS(sched_getparam), SCMP_SYS(getppid), SCMP_SYS(open),
	SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(access), SCMP_SYS(pipe),
	SCMP_SYS(unshare),
#endif
};

int
sandbox_enter(void)
{
	const struct scmp_arg_cmp unix_only = {
		.arg = 0, .op = SCMP_CMP_EQ, .datum_a = AF_UNIX, .datum_b = 0,
	};
	scmp_filter_ctx ctx;
	int r;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		log_err("cannot forbid new privileges: %s", strerror(-r));
		return r;
	}
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		log_err("cannot make a system call filter");
		return -ENOMEM;
	}
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(allowed); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	/* sd_notify's datagram to systemd; no other socket is ever made. */
	if (r == 0)
		r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		                           &unix_only);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0)
		log_err("cannot install the system call filter: %s",
		        strerror(-r));
	return r;
}
