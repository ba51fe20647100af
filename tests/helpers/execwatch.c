/*
 * execwatch: a static helper for tests/integration/oci/test_oci_exec_attack.py. It runs in a
 * container granted CAP_SYS_PTRACE (or every capability) and does what an attacker there would
 * do while the runtime execs processes into it: poll /proc for each new pid and try to reach
 * the host through it, the window the CVE-2019-5736 class needs.
 *
 *   execwatch STOPFILE OUTFILE HOSTPATH NAME DEV:INO...
 *
 * For each new pid N (not itself):
 *   root    /proc/N/root/HOSTPATH opens (HOSTPATH: a file only the host has)
 *   create  a file can be created in the directory of HOSTPATH through /proc/N/root (it is
 *           removed again at once; the test checks that none is left)
 *   cwd     /proc/N/cwd/NAME opens (NAME: HOSTPATH's base name; the test runs the runtime
 *           with its cwd in that directory)
 *   fd      /proc/N/fd/K reopens as a directory, a block device or a regular file that is
 *           not a memfd (stdio given by the test is /dev/null or pipes)
 *   exe     /proc/N/exe is one of the runtime binaries DEV:INO (exe_seen), and opens for
 *           writing, at once or through a kept O_PATH fd once the runtime has exited
 *           (exe_write). Nothing is ever written.
 * Until STOPFILE exists (at most 600 s). Then one line of counts goes to OUTFILE:
 *   pids=N root=N create=N cwd=N fd=N exe_seen=N exe_write=N
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_PID (1 << 22)
#define MAX_BINS 8
#define MAX_KEPT 512

static unsigned char seen[MAX_PID / 8];
static struct {
	dev_t dev;
	ino_t ino;
} bins[MAX_BINS];
static int n_bins;
static int kept[MAX_KEPT], n_kept;
static long n_pids, n_root, n_create, n_cwd, n_fd, n_exe_seen, n_exe_write;
static const char *host_path, *name;

static int is_bin(const struct stat *st)
{
	for (int i = 0; i < n_bins; i++)
		if (st->st_dev == bins[i].dev && st->st_ino == bins[i].ino)
			return 1;
	return 0;
}

static void probe_fds(int pid)
{
	char path[64], link[256];
	struct dirent *e;
	DIR *d;

	(void)snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d))) {
		char fdp[384];
		struct stat st;
		ssize_t n;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		(void)snprintf(fdp, sizeof(fdp), "%s/%s", path, e->d_name);
		fd = open(fdp, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* What we opened, not what the pid has now (it may close or reuse the fd). */
		(void)snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d", fd);
		n = readlink(fdp, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = '\0';
		if (fstat(fd, &st) == 0 &&
		    (S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode) ||
		     (S_ISREG(st.st_mode) && strncmp(link, "/memfd:", 7) != 0))) {
			n_fd++;
			fprintf(stderr, "execwatch: pid %d fd %s -> %s\n", pid, e->d_name, link);
		}
		close(fd);
	}
	closedir(d);
}

static void probe_exe(int pid)
{
	char path[64], self[64];
	struct stat st;
	int fd, w;

	(void)snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !is_bin(&st)) {
		close(fd);
		return;
	}
	n_exe_seen++;
	(void)snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	w = open(self, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (w >= 0) {
		n_exe_write++;
		close(w);
		close(fd);
	} else if (n_kept < MAX_KEPT) {
		kept[n_kept++] = fd; /* retried once the runtime has exited */
	} else {
		close(fd);
	}
}

static void probe(int pid)
{
	char path[8400], dir[4096];
	const char *slash = strrchr(host_path, '/');
	int fd;

	n_pids++;
	(void)snprintf(path, sizeof(path), "/proc/%d/root%s", pid, host_path);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n_root++;
		close(fd);
	}
	(void)snprintf(dir, sizeof(dir), "%.*s", (int)(slash - host_path), host_path);
	(void)snprintf(path, sizeof(path), "/proc/%d/root%s/created-%d", pid, dir, pid);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) >= 0) {
		n_create++;
		close(fd);
		(void)unlink(path);
	}
	(void)snprintf(path, sizeof(path), "/proc/%d/cwd/%s", pid, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n_cwd++;
		close(fd);
	}
	probe_fds(pid);
	probe_exe(pid);
}

static void scan(int self)
{
	struct dirent *e;
	DIR *d = opendir("/proc");

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end || pid <= 0 || pid >= MAX_PID || pid == self)
			continue;
		if (seen[pid / 8] & (1 << (pid % 8)))
			continue;
		seen[pid / 8] |= (unsigned char)(1 << (pid % 8));
		probe((int)pid);
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	struct timespec t0, now;
	int self = getpid();
	FILE *out;

	if (argc < 6) {
		fprintf(stderr, "usage: execwatch STOPFILE OUTFILE HOSTPATH NAME DEV:INO...\n");
		return 2;
	}
	host_path = argv[3];
	name = argv[4];
	for (int i = 5; i < argc && n_bins < MAX_BINS; i++) {
		unsigned long long dev, ino;

		if (sscanf(argv[i], "%llu:%llu", &dev, &ino) == 2) {
			bins[n_bins].dev = (dev_t)dev;
			bins[n_bins].ino = (ino_t)ino;
			n_bins++;
		}
	}
	/* What is already there (the init, ourselves) is not the runtime's. */
	scan(self);
	n_pids = n_root = n_create = n_cwd = n_fd = n_exe_seen = n_exe_write = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		scan(self);
		if (access(argv[1], F_OK) == 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > 600)
			break;
	}
	for (int i = 0; i < n_kept; i++) {
		char self_fd[64];
		int w;

		(void)snprintf(self_fd, sizeof(self_fd), "/proc/self/fd/%d", kept[i]);
		w = open(self_fd, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (w >= 0) {
			n_exe_write++;
			close(w);
		}
		close(kept[i]);
	}
	out = fopen(argv[2], "w");
	if (!out)
		return 1;
	fprintf(out, "pids=%ld root=%ld create=%ld cwd=%ld fd=%ld exe_seen=%ld exe_write=%ld\n",
		n_pids, n_root, n_create, n_cwd, n_fd, n_exe_seen, n_exe_write);
	return fclose(out) == 0 ? 0 : 1;
}
