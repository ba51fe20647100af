/*
 * Unit tests for src/container/mount.c with mount(2) and mount_setattr(2) faked through
 * --wrap: which calls a config makes, with which flags and data, and where the targets land
 * (always inside the rootfs, even through a hostile symlink). No privileges needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container/mount-internal.h"
#include "container/rootfs.h"
#include "spec/spec.h"

#define MAX_CALLS 16

struct call {
	char kind; /* 'm' mount, 'a' mount_setattr */
	char source[PATH_MAX];
	char target[PATH_MAX]; /* resolved through /proc/self/fd */
	char type[32];
	char data[128];
	unsigned long flags;
	unsigned int at_flags;
	uint64_t attr_set, attr_clr;
};

static struct call calls[MAX_CALLS];
static int n_calls;
static char root[] = "/tmp/hull-test-mount.XXXXXX";

static void resolve(const char *path, char *out)
{
	ssize_t n = readlink(path, out, PATH_MAX - 1);

	if (n < 0)
		(void)snprintf(out, PATH_MAX, "%s", path);
	else
		out[n] = '\0';
}

int __wrap_mount(const char *source, const char *target, const char *type, unsigned long flags,
		 const void *data);
int __wrap_mount(const char *source, const char *target, const char *type, unsigned long flags,
		 const void *data)
{
	struct call *c = &calls[n_calls++];

	assert_true(n_calls <= MAX_CALLS);
	c->kind = 'm';
	(void)snprintf(c->source, sizeof(c->source), "%s", source ? source : "");
	resolve(target, c->target);
	(void)snprintf(c->type, sizeof(c->type), "%s", type ? type : "");
	(void)snprintf(c->data, sizeof(c->data), "%s", data ? (const char *)data : "");
	c->flags = flags;
	return 0;
}

int __wrap_mount_setattr(int fd, const char *path, unsigned int flags, struct mount_attr *attr,
			 size_t size);
int __wrap_mount_setattr(int fd, const char *path, unsigned int flags, struct mount_attr *attr,
			 size_t size)
{
	struct call *c = &calls[n_calls++];
	char p[64];

	assert_true(n_calls <= MAX_CALLS);
	c->kind = 'a';
	(void)snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	resolve(p, c->target);
	c->at_flags = flags;
	c->attr_set = attr->attr_set;
	c->attr_clr = attr->attr_clr;
	return 0;
}

static int setup(void **state)
{
	char path[PATH_MAX];

	if (!mkdtemp(root))
		return -1;
	/* A hostile image: /evil is an absolute symlink to the host's /etc. */
	(void)snprintf(path, sizeof(path), "%s/evil", root);
	return symlink("/etc", path);
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	return nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int mount_all(const char *mounts_json)
{
	char doc[4096];
	struct oci_spec *s = NULL;
	struct hull_err err = { 0 };
	int root_fd, r;

	(void)snprintf(doc, sizeof(doc),
		       "{\"ociVersion\":\"1.1.0\",\"root\":{\"path\":\"%s\"},\"mounts\":%s}", root,
		       mounts_json);
	if (spec_parse(doc, strlen(doc), "config.json", "/tmp", &s, &err) < 0)
		fail_msg("parse: %s", err.msg);
	n_calls = 0;
	memset(calls, 0, sizeof(calls));
	root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(root_fd >= 0);
	r = rootfs_mount_all(root_fd, s, false, &err);
	if (r < 0)
		fail_msg("mount_all: %s", err.msg);
	close(root_fd);
	spec_free(s);
	return r;
}

static void expect_in_root(const char *target, const char *rel)
{
	char want[PATH_MAX];

	(void)snprintf(want, sizeof(want), "%s%s", root, rel);
	assert_string_equal(target, want);
}

static void test_tmpfs(void **state)
{
	mount_all("[{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
		  "\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]}]");
	assert_int_equal(n_calls, 1);
	assert_int_equal(calls[0].kind, 'm');
	assert_string_equal(calls[0].source, "tmpfs");
	assert_string_equal(calls[0].type, "tmpfs");
	assert_string_equal(calls[0].data, "mode=755,size=65536k");
	assert_int_equal(calls[0].flags, MS_NOSUID | MS_STRICTATIME);
	expect_in_root(calls[0].target, "/dev");
}

static void test_bind_ro_is_remounted_through_setattr(void **state)
{
	mount_all("[{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/tmp\","
		  "\"options\":[\"bind\",\"ro\",\"nosuid\"]}]");
	assert_int_equal(n_calls, 2);
	assert_int_equal(calls[0].kind, 'm');
	assert_string_equal(calls[0].source, "/tmp");
	assert_int_equal(calls[0].flags, MS_BIND);
	expect_in_root(calls[0].target, "/data");
	assert_int_equal(calls[1].kind, 'a');
	assert_int_equal(calls[1].attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
	assert_int_equal(calls[1].attr_clr, 0);
	assert_false(calls[1].at_flags & AT_RECURSIVE); /* ro alone: the top mount, as runc */
}

static void test_rbind_rro_recursive(void **state)
{
	mount_all("[{\"destination\":\"/r\",\"type\":\"none\",\"source\":\"/tmp\","
		  "\"options\":[\"rbind\",\"rro\",\"rprivate\"]}]");
	assert_int_equal(n_calls, 3);
	assert_int_equal(calls[0].flags, MS_BIND | MS_REC);
	assert_int_equal(calls[1].kind, 'a');
	assert_true(calls[1].at_flags & AT_RECURSIVE);
	assert_int_equal(calls[1].attr_set, MOUNT_ATTR_RDONLY);
	assert_int_equal(calls[2].kind, 'm');
	assert_int_equal(calls[2].flags, MS_PRIVATE | MS_REC);
	expect_in_root(calls[2].target, "/r");
}

static void test_symlink_cannot_send_mount_to_host(void **state)
{
	char hostpath[PATH_MAX];
	struct stat st;

	mount_all("[{\"destination\":\"/evil/hull-test-x\",\"type\":\"tmpfs\",\"source\":\"t\"}]");
	assert_int_equal(n_calls, 1);
	/* /evil -> /etc is followed inside the root: the target is <root>/etc/hull-test-x */
	expect_in_root(calls[0].target, "/etc/hull-test-x");
	(void)snprintf(hostpath, sizeof(hostpath), "/etc/hull-test-x");
	assert_int_equal(stat(hostpath, &st), -1);
}

static void test_file_bind_creates_file(void **state)
{
	char path[PATH_MAX];
	struct stat st;

	mount_all("[{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"/etc/hostname\","
		  "\"options\":[\"rbind\"]}]");
	(void)snprintf(path, sizeof(path), "%s/etc/hosts", root);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(calls[0].flags, MS_BIND | MS_REC);
}

static void test_copyup_dir(void **state)
{
	char src[PATH_MAX], dst[PATH_MAX], p[PATH_MAX], buf[64];
	int sfd, dfd, fd;
	struct stat st;
	ssize_t n;

	(void)snprintf(src, sizeof(src), "%s/cu-src", root);
	(void)snprintf(dst, sizeof(dst), "%s/cu-dst", root);
	assert_int_equal(mkdir(src, 0755), 0);
	assert_int_equal(mkdir(dst, 0755), 0);
	(void)snprintf(p, sizeof(p), "%s/sub", src);
	assert_int_equal(mkdir(p, 0700), 0);
	(void)snprintf(p, sizeof(p), "%s/sub/f", src);
	fd = open(p, O_WRONLY | O_CREAT, 0640);
	assert_int_equal(write(fd, "content", 7), 7);
	close(fd);
	(void)snprintf(p, sizeof(p), "%s/link", src);
	assert_int_equal(symlink("sub/f", p), 0);

	sfd = open(src, O_RDONLY | O_DIRECTORY);
	dfd = open(dst, O_RDONLY | O_DIRECTORY);
	assert_int_equal(copyup_dir(sfd, dfd, 0), 0);
	close(sfd);
	close(dfd);

	(void)snprintf(p, sizeof(p), "%s/sub", dst);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	(void)snprintf(p, sizeof(p), "%s/sub/f", dst);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	fd = open(p, O_RDONLY);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(n, 7);
	(void)snprintf(p, sizeof(p), "%s/link", dst);
	n = readlink(p, buf, sizeof(buf) - 1);
	assert_int_equal(n, 5);
	buf[n] = '\0';
	assert_string_equal(buf, "sub/f");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tmpfs),
		cmocka_unit_test(test_bind_ro_is_remounted_through_setattr),
		cmocka_unit_test(test_rbind_rro_recursive),
		cmocka_unit_test(test_symlink_cannot_send_mount_to_host),
		cmocka_unit_test(test_file_bind_creates_file),
		cmocka_unit_test(test_copyup_dir),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
