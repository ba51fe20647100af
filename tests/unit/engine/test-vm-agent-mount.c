/*
 * The guest agent's MOUNT (guest/agent/mounts.c): the payload's parser refuses every shape
 * but {flags, TAG, TARGET} with both strings NUL-terminated and nothing after, a tag of 1 to
 * 36 bytes, known flags only (seeded random payloads never crash it and never yield a string
 * that runs past the payload); the target is made and resolved inside a root: symlinks in the
 * "image" pointing out of it (relative and absolute, dangling ones whose target is made as
 * runc makes it, loops) land inside, ".." and relative targets are refused, and nothing is
 * ever created outside the root.
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

#include "agent.h"
#include "proto.h"

void agent_log(const char *fmt, ...)
{
	(void)fmt;
}

static uint32_t put(uint8_t *b, uint32_t flags, const char *tag, const char *target)
{
	size_t t = strlen(tag) + 1, p = strlen(target) + 1;

	hull_agent_put32(b, flags);
	memcpy(b + 4, tag, t);
	memcpy(b + 4 + t, target, p);
	return (uint32_t)(4 + t + p);
}

static void test_parse(void **state)
{
	uint8_t b[8192];
	const char *tag, *target;
	uint32_t flags, n;
	char longtag[40];

	n = put(b, HULL_AGENT_MOUNT_RO, "hullfs0", "/data");
	assert_int_equal(agent_mount_parse(b, n, &flags, &tag, &target), 0);
	assert_int_equal(flags, HULL_AGENT_MOUNT_RO);
	assert_string_equal(tag, "hullfs0");
	assert_string_equal(target, "/data");
	/* one byte after the target's NUL, none, a missing NUL, unknown flags, empty tag */
	assert_int_equal(agent_mount_parse(b, n + 1, &flags, &tag, &target), -EINVAL);
	assert_int_equal(agent_mount_parse(b, n - 1, &flags, &tag, &target), -EINVAL);
	n = put(b, 2, "t", "/x");
	assert_int_equal(agent_mount_parse(b, n, &flags, &tag, &target), -EINVAL);
	n = put(b, 0, "", "/x");
	assert_int_equal(agent_mount_parse(b, n, &flags, &tag, &target), -EINVAL);
	memset(longtag, 'a', 37);
	longtag[37] = '\0';
	n = put(b, 0, longtag, "/x");
	assert_int_equal(agent_mount_parse(b, n, &flags, &tag, &target), -EINVAL);
	longtag[36] = '\0';
	n = put(b, 0, longtag, "/x");
	assert_int_equal(agent_mount_parse(b, n, &flags, &tag, &target), 0);
	/* two strings in the tag's place, three after */
	memcpy(b, "\0\0\0\0a\0/b\0c\0", 12);
	assert_int_equal(agent_mount_parse(b, 12, &flags, &tag, &target), -EINVAL);
	assert_int_equal(agent_mount_parse(b, 3, &flags, &tag, &target), -EINVAL);
	/* seeded random payloads: whatever parses has both strings inside the payload */
	srand(18);
	for (int i = 0; i < 20000; i++) {
		uint32_t len = (uint32_t)(rand() % 64);

		for (uint32_t k = 0; k < len; k++)
			b[k] = (uint8_t)(rand() % 4 ? 'a' + rand() % 3 : 0);
		if (len >= 4 && rand() % 2)
			memset(b, 0, 4);
		if (agent_mount_parse(b, len, &flags, &tag, &target) == 0) {
			assert_true(tag >= (const char *)b + 4 && target > tag);
			assert_true(target + strlen(target) == (const char *)b + len - 1);
			assert_true(strlen(tag) >= 1 && strlen(tag) <= 36);
		}
	}
}

static void test_target_in_root(void **state)
{
	char base[] = "/tmp/hull-agent-mount-XXXXXX", path[4200];
	struct stat st;
	int root, fd;

	assert_non_null(mkdtemp(base));
	(void)snprintf(path, sizeof(path), "%s/root", base);
	assert_int_equal(mkdir(path, 0755), 0);
	root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(root >= 0);
	/* the image's links out of the root: relative, absolute, through another link */
	assert_int_equal(symlinkat("../../..", root, "up"), 0);
	assert_int_equal(symlinkat("/", root, "abs"), 0);
	assert_int_equal(symlinkat("up/outside", root, "chain"), 0);

	fd = agent_mount_target(root, "/up/a/b");
	assert_true(fd >= 0);
	close(fd);
	(void)snprintf(path, sizeof(path), "%s/root/a/b", base);
	assert_int_equal(stat(path, &st), 0);
	fd = agent_mount_target(root, "/abs/c");
	assert_true(fd >= 0);
	close(fd);
	(void)snprintf(path, sizeof(path), "%s/root/c", base);
	assert_int_equal(stat(path, &st), 0);
	/* a dangling link through another: what it names is made, inside the root (as runc) */
	fd = agent_mount_target(root, "/chain/d");
	assert_true(fd >= 0);
	close(fd);
	(void)snprintf(path, sizeof(path), "%s/root/outside/d", base);
	assert_int_equal(stat(path, &st), 0);
	(void)snprintf(path, sizeof(path), "%s/outside", base);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(stat("/outside", &st), -1);
	/* an absolute dangling link and a loop */
	assert_int_equal(symlinkat("/../new/place", root, "dang"), 0);
	fd = agent_mount_target(root, "/dang/e");
	assert_true(fd >= 0);
	close(fd);
	(void)snprintf(path, sizeof(path), "%s/root/new/place/e", base);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(symlinkat("loop2", root, "loop1"), 0);
	assert_int_equal(symlinkat("loop1", root, "loop2"), 0);
	assert_true(agent_mount_target(root, "/loop1/x") < 0);
	/* refused: "..", relative, too long */
	assert_int_equal(agent_mount_target(root, "/a/../x"), -EINVAL);
	assert_int_equal(agent_mount_target(root, "a/b"), -EINVAL);
	memset(path, 'x', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(agent_mount_target(root, path), -EINVAL);
	/* the root itself, and a path with "." and doubled slashes */
	fd = agent_mount_target(root, "/");
	assert_true(fd >= 0);
	close(fd);
	fd = agent_mount_target(root, "//a/./b/");
	assert_true(fd >= 0);
	close(fd);
	/* only root/ and its contents exist under base */
	(void)snprintf(path, sizeof(path), "rm -rf %s/root && rmdir %s", base, base);
	assert_int_equal(system(path), 0);
	close(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_target_in_root),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
