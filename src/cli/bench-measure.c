/* The measurements of `hull bench compare`: timed runs of hull, process-tree PSS, medians. */
#include "cli/bench-measure.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/childwait.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "engine/vmroot.h"
#include "image/store.h"

/* Bounds: a process tree larger than this is not an instance hull made. */
#define BENCH_MAX_PROCS 4096

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void child_exec(const char *self, char *const *args, int out, int err)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	execv(self, args);
	_exit(127);
}

/* Keep the last complete (or trailing) line of what stderr said in r->err_line. */
static void keep_last_line(struct bench_run *r, char *acc, size_t *acc_len, const char *buf,
			   size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			if (*acc_len > 0) {
				acc[*acc_len] = '\0';
				(void)snprintf(r->err_line, sizeof(r->err_line), "%s", acc);
			}
			*acc_len = 0;
		} else if (*acc_len + 1 < sizeof(r->err_line)) {
			acc[(*acc_len)++] = buf[i];
		}
	}
}

/* Read both pipes to their ends, stamping the first byte of stdout. */
static void drain(int out, int err, double t0, struct bench_run *r)
{
	struct pollfd p[2] = { { .fd = out, .events = POLLIN }, { .fd = err, .events = POLLIN } };
	char buf[4096], acc[sizeof(r->err_line)];
	size_t acc_len = 0;

	while (p[0].fd >= 0 || p[1].fd >= 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			ssize_t n = read(p[i].fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				p[i].fd = -1;
				continue;
			}
			if (i == 0 && r->first_s < 0)
				r->first_s = now_s() - t0;
			if (i == 1)
				keep_last_line(r, acc, &acc_len, buf, (size_t)n);
		}
	}
	if (acc_len > 0) {
		acc[acc_len] = '\0';
		(void)snprintf(r->err_line, sizeof(r->err_line), "%s", acc);
	}
}

int bench_run_hull(const char *self, char *const *args, struct bench_run *r)
{
	cleanup_close int out_r = -1, out_w = -1, err_r = -1, err_w = -1;
	int po[2], pe[2];
	pid_t pid;
	double t0;

	*r = (struct bench_run){ .first_s = -1 };
	if (pipe2(po, O_CLOEXEC) < 0)
		return -errno;
	out_r = po[0], out_w = po[1];
	if (pipe2(pe, O_CLOEXEC) < 0)
		return -errno;
	err_r = pe[0], err_w = pe[1];
	t0 = now_s();
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child_exec(self, args, out_w, err_w);
	(void)close(steal_fd(&out_w));
	(void)close(steal_fd(&err_w));
	drain(out_r, err_r, t0, r);
	r->code = child_wait(pid);
	r->total_s = now_s() - t0;
	return r->code < 0 ? r->code : 0;
}

/* The parent of pid from /proc/PID/stat (after the command's closing parenthesis). */
static pid_t proc_ppid(pid_t pid)
{
	char path[64], buf[512];
	cleanup_close int fd = -1;
	ssize_t n;
	char *p;
	int ppid;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

static uint64_t proc_pss(pid_t pid)
{
	char path[64], line[256];
	unsigned long long kib;
	FILE *f;
	uint64_t pss = 0;

	(void)snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pss: %llu kB", &kib) == 1) {
			pss = (uint64_t)kib * 1024;
			break;
		}
	fclose(f);
	return pss;
}

int bench_tree_pss(pid_t root, uint64_t *ret)
{
	pid_t pids[BENCH_MAX_PROCS], ppids[BENCH_MAX_PROCS];
	bool in[BENCH_MAX_PROCS] = { false };
	size_t n = 0;
	struct dirent *e;
	DIR *d = opendir("/proc");
	uint64_t sum = 0;
	bool grew = true;

	if (!d)
		return -errno;
	while ((e = readdir(d)) && n < BENCH_MAX_PROCS) {
		char *end;
		long v = strtol(e->d_name, &end, 10);
		if (*end || v <= 0)
			continue;
		pids[n] = (pid_t)v;
		ppids[n] = proc_ppid((pid_t)v);
		in[n] = pids[n] == root;
		n++;
	}
	closedir(d);
	/* the descendants: add a process whose parent is in, until nothing changes */
	while (grew) {
		grew = false;
		for (size_t i = 0; i < n; i++) {
			if (in[i])
				continue;
			for (size_t j = 0; j < n; j++)
				if (in[j] && ppids[i] == pids[j]) {
					in[i] = grew = true;
					break;
				}
		}
	}
	for (size_t i = 0; i < n; i++)
		if (in[i])
			sum += proc_pss(pids[i]);
	if (sum == 0)
		return -ESRCH;
	*ret = sum;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int bench_vm_boot_files(struct image_store *s, const char *kernel, uint64_t *ret)
{
	cleanup_close int vm = openat(s->root_fd, "vm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	struct dirent *e;
	uint64_t sum = 0;
	cleanup_free char *path = NULL;
	cleanup_free char *release = NULL;
	struct hull_err err = { 0 };
	DIR *d;

	if (vm < 0)
		return -errno;
	d = fdopendir(steal_fd(&vm));
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "initrd-", 7) == 0 &&
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_blocks * 512;
	closedir(d);
	/* the kernel the VM runs use: the engine's own choice */
	if (vmroot_kernel(kernel, &path, &release, &err) == 0 && stat(path, &st) == 0)
		sum += (uint64_t)st.st_size;
	*ret = sum;
	return 0;
}

void bench_vm_warm_du(struct image_store *s, const char *rel, uint64_t *ret)
{
	cleanup_close int fd = openat(s->root_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;
	uint64_t n;
	DIR *d;

	*ret = 0;
	if (fd < 0 || !(d = fdopendir(steal_fd(&fd))))
		return;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "warm-", 5) == 0 && !strstr(e->d_name, ".tmp.") &&
		    store_du_at(dirfd(d), e->d_name, &n) == 0)
			*ret += n;
	closedir(d);
}
