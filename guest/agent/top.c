/*
 * TOP (proto.h, `hull top` on a VM container): the processes that descend from the agent,
 * read from the guest's /proc, encoded as a TOP_REPLY payload. Only the agent's descendants:
 * in the guest that is every user process but the agent itself (the kernel's threads hang off
 * kthreadd, PID 2); a test agent (--unix) on the host lists only what it started, never the
 * host's processes.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

#define TOP_SCAN_MAX 8192u /* /proc entries looked at, at most */

struct top_ent {
	int pid, ppid;
};

/* Read a small /proc file into buf (NUL-terminated): its length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	while (got + 1 < size && (n = read(fd, buf + got, size - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

/* Every process's pid and ppid: the count (<= max). */
static size_t scan(struct top_ent *v, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while (n < max && (de = readdir(d))) {
		char path[64], buf[512], *rp;
		int pid = atoi(de->d_name), ppid;

		if (pid <= 0)
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		if (read_small(path, buf, sizeof(buf)) <= 0 || !(rp = strrchr(buf, ')')) ||
		    sscanf(rp + 1, " %*c %d", &ppid) != 1)
			continue;
		v[n++] = (struct top_ent){ pid, ppid };
	}
	closedir(d);
	return n;
}

/* Does pid descend from self? Bounded walk: a cycle or a deep chain is "no". */
static bool descends(const struct top_ent *v, size_t n, int pid, int self)
{
	for (size_t depth = 0; depth < n && pid > 1; depth++) {
		size_t i;

		for (i = 0; i < n && v[i].pid != pid; i++)
			;
		if (i == n)
			return false;
		if (v[i].ppid == self)
			return true;
		pid = v[i].ppid;
	}
	return false;
}

/* One entry at out (room for a whole one): its size, or 0 when the process is gone. */
static size_t encode_one(int pid, int ppid, uint8_t *out)
{
	char path[64], stat[1024], *rp, status[4096], *u;
	static char cmd[HULL_AGENT_TOP_CMD_MAX + 1];
	unsigned long long ut = 0, st = 0;
	long rss = 0, hz = sysconf(_SC_CLK_TCK);
	ssize_t cl;
	uint32_t uid = 0;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_small(path, stat, sizeof(stat)) <= 0 || !(rp = strrchr(stat, ')')) ||
	    sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
		   "%*d %*d %*u %*u %ld", &ut, &st, &rss) != 3)
		return 0;
	(void)snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_small(path, status, sizeof(status)) > 0 && (u = strstr(status, "\nUid:")))
		uid = (uint32_t)strtoul(u + 5, NULL, 10);
	(void)snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	cl = read_small(path, cmd, sizeof(cmd));
	if (cl <= 0) /* a zombie: its name from stat, as ps shows it */
		cl = snprintf(cmd, sizeof(cmd), "[%.*s]", (int)(rp - strchr(stat, '(') - 1),
			      strchr(stat, '(') + 1);
	if (cl > (ssize_t)HULL_AGENT_TOP_CMD_MAX)
		cl = HULL_AGENT_TOP_CMD_MAX;
	while (cl > 0 && cmd[cl - 1] == '\0')
		cl--;
	for (ssize_t i = 0; i < cl; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	hull_agent_put32(out, (uint32_t)pid);
	hull_agent_put32(out + 4, (uint32_t)ppid);
	hull_agent_put32(out + 8, uid);
	hull_agent_put32(out + 12, (uint32_t)cl);
	hull_agent_put64(out + 16, hz > 0 ? (ut + st) * 1000ull / (unsigned long long)hz : 0);
	hull_agent_put64(out + 24, (uint64_t)(rss > 0 ? rss : 0) * (uint64_t)sysconf(_SC_PAGESIZE));
	memcpy(out + 32, cmd, (size_t)cl);
	return sizeof(struct hull_agent_top_wire) + (size_t)cl;
}

size_t agent_top(uint8_t *out, size_t size)
{
	static struct top_ent v[TOP_SCAN_MAX];
	size_t n = scan(v, TOP_SCAN_MAX), pos = 8, len;
	uint32_t count = 0, flags = 0;
	int self = (int)getpid();

	if (size < 8)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].pid == self || !descends(v, n, v[i].pid, self))
			continue;
		if (count == HULL_AGENT_TOP_MAX ||
		    size - pos < sizeof(struct hull_agent_top_wire) + HULL_AGENT_TOP_CMD_MAX) {
			flags |= HULL_AGENT_TOP_TRUNCATED;
			break;
		}
		len = encode_one(v[i].pid, v[i].ppid, out + pos);
		pos += len;
		count += len > 0;
	}
	hull_agent_put32(out, count);
	hull_agent_put32(out + 4, flags);
	return pos;
}
