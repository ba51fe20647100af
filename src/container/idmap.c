#include "container/idmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/strv.h"

#define SUBID_FILE_MAX (1U << 20)
#define HELPER_ERR_MAX 512

int idmap_check(const struct oci_idmap *m, size_t n, const char *field, struct hull_err *err)
{
	char where[96];

	(void)snprintf(where, sizeof(where), "config.json: linux.%s", field);
	return spec_idmap_check(m, n, where, err);
}

/* The first "user:start:count" line for user in a subuid/subgid file. */
static bool subid_range(const char *file, const char *user, uint32_t *ret_start,
			uint32_t *ret_count)
{
	cleanup_free char *buf = NULL;
	size_t ulen = user ? strlen(user) : 0;
	char *save = NULL;

	if (!user || fd_read_file_at(AT_FDCWD, file, SUBID_FILE_MAX, &buf, NULL) < 0)
		return false;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		unsigned long long start, count;
		char *end;

		if (strncmp(l, user, ulen) != 0 || l[ulen] != ':')
			continue;
		errno = 0;
		start = strtoull(l + ulen + 1, &end, 10);
		if (errno || *end != ':')
			continue;
		count = strtoull(end + 1, &end, 10);
		if (errno || (*end && *end != ' ') || !count || start > UINT32_MAX ||
		    start + count > (unsigned long long)UINT32_MAX + 1)
			continue;
		*ret_start = (uint32_t)start;
		*ret_count = (uint32_t)count;
		return true;
	}
	return false;
}

size_t idmap_default(uint32_t container_id, uint32_t host_id, const char *user,
		     const char *subid_file, struct oci_idmap **ret)
{
	struct oci_idmap *m = xcalloc(3, sizeof(*m));
	uint32_t from = 0, avail = 0;
	size_t n = 0;

	if (!subid_range(subid_file, user, &from, &avail)) {
		/* No subordinate ids: only our own, as root of the container. */
		m[0] = (struct oci_idmap){ .container_id = 0, .host_id = host_id, .size = 1 };
		*ret = m;
		return 1;
	}
	if (container_id > 0) {
		uint32_t used = container_id < avail ? container_id : avail;

		if (used)
			m[n++] = (struct oci_idmap){ .container_id = 0, .host_id = from,
						     .size = used };
		from += used;
		avail -= used;
	}
	m[n++] = (struct oci_idmap){ .container_id = container_id, .host_id = host_id, .size = 1 };
	if (avail && container_id < UINT32_MAX) {
		uint32_t room = UINT32_MAX - container_id;

		m[n++] = (struct oci_idmap){ .container_id = container_id + 1, .host_id = from,
					     .size = avail < room ? avail : room };
	}
	*ret = m;
	return n;
}

char *idmap_format(const struct oci_idmap *m, size_t n)
{
	char *buf = xmalloc(n * 36 + 1);
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, 36, "%u %u %u\n", m[i].container_id,
					m[i].host_id, m[i].size);
	return buf;
}

static char **helper_argv(const char *helper, pid_t pid, const struct oci_idmap *m, size_t n)
{
	char **argv = NULL;

	strv_push(&argv, helper);
	strv_push_owned(&argv, xasprintf("%d", (int)pid));
	for (size_t i = 0; i < n; i++) {
		strv_push_owned(&argv, xasprintf("%u", m[i].container_id));
		strv_push_owned(&argv, xasprintf("%u", m[i].host_id));
		strv_push_owned(&argv, xasprintf("%u", m[i].size));
	}
	return argv;
}

/* The helper's first stderr line (it says which range /etc/sub?id does not allow). */
static void read_first_line(int fd, char *buf, size_t size)
{
	ssize_t n = fd_read_all(fd, buf, size - 1);

	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

int idmap_write_helper(const char *helper, pid_t pid, const struct oci_idmap *m, size_t n,
		       const char *field, struct hull_err *err)
{
	cleanup_strv char **argv = helper_argv(helper, pid, m, n);
	cleanup_close int rd = -1, wr = -1;
	char msg[HELPER_ERR_MAX];
	int pfd[2], status;
	pid_t child;

	if (access(helper, X_OK) < 0)
		return hull_err_set(err, errno,
				    "config.json: linux.%s: mapping these ids needs privilege, and "
				    "%s (package uidmap) is not usable",
				    field, helper);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return hull_err_set(err, errno, "pipe");
	rd = pfd[0];
	wr = pfd[1];
	child = fork();
	if (child < 0)
		return hull_err_set(err, errno, "fork %s", helper);
	if (child == 0) {
		static char *const empty_env[] = { NULL };

		if (dup2(wr, STDERR_FILENO) < 0)
			_exit(127);
		(void)fd_cloexec_from(3);
		execve(helper, argv, empty_env);
		_exit(127);
	}
	(void)close(steal_fd(&wr));
	read_first_line(rd, msg, sizeof(msg));
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return hull_err_set(err, errno, "wait for %s", helper);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	return hull_err_setx(err, EPERM, "config.json: linux.%s: %s refused the mapping: %s",
			     field, helper, msg[0] ? msg : "no reason given");
}

int idmap_write(pid_t pid, const char *file, const char *helper, const struct oci_idmap *m,
		size_t n, const char *field, struct hull_err *err)
{
	cleanup_free char *buf = idmap_format(m, n);
	cleanup_close int fd = -1;
	char path[64];
	ssize_t w;

	(void)snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_set(err, errno, "open %s", path);
	/* The kernel takes the whole map in one write(2) or not at all. */
	w = write(fd, buf, strlen(buf));
	if (w >= 0)
		return 0;
	if (errno == EPERM)
		return idmap_write_helper(helper, pid, m, n, field, err);
	return hull_err_set(err, errno, "config.json: linux.%s: write %s", field, path);
}
