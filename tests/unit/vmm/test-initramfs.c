/* The cpio newc writer and modules.dep resolution. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/fd.h"
#include "common/strv.h"
#include "vmm/initramfs.h"

static void test_cpio_layout(void **state)
{
	struct cpio_buf b = { 0 };
	char field[9] = { 0 };

	cpio_add(&b, "init", S_IFREG | 0755, 0, 0, "#!/bin/sh\n", 10);
	assert_memory_equal(b.data, "070701", 6);
	memcpy(field, b.data + 6 + 8, 8); /* mode */
	assert_int_equal(strtoul(field, NULL, 16), S_IFREG | 0755);
	memcpy(field, b.data + 6 + 6 * 8, 8); /* filesize */
	assert_int_equal(strtoul(field, NULL, 16), 10);
	memcpy(field, b.data + 6 + 11 * 8, 8); /* namesize, with the NUL */
	assert_int_equal(strtoul(field, NULL, 16), 5);
	assert_string_equal((char *)b.data + 110, "init");
	/* header + name padded to 4, then data padded to 4 */
	assert_int_equal(b.len, 116 + 12);
	assert_memory_equal(b.data + 116, "#!/bin/sh\n", 10);
	cpio_add(&b, "dev/console", S_IFCHR | 0600, 5, 1, NULL, 0);
	cpio_finish(&b);
	assert_int_equal(b.len % 4, 0);
	assert_non_null(memmem(b.data, b.len, "TRAILER!!!", 10));
	cpio_buf_free(&b);
}

static void test_cpio_readable_by_cpio(void **state)
{
	struct cpio_buf b = { 0 };
	char path[] = "/tmp/hull-test-cpio-XXXXXX";
	char cmd[256];
	int fd = mkstemp(path);
	FILE *p;
	char line[64] = { 0 };

	/*
	 * cpio is a dependency (scripts/debian-packages.txt): no skip(), which cmocka prints as
	 * "not ok # SKIP" and Meson counts as a failure anyway.
	 */
	assert_int_equal(access("/usr/bin/cpio", X_OK), 0);
	cpio_add(&b, "etc", S_IFDIR | 0755, 0, 0, NULL, 0);
	cpio_add(&b, "etc/hello", S_IFREG | 0644, 0, 0, "hi", 2);
	cpio_add(&b, "bin/sh", S_IFLNK | 0777, 0, 0, "busybox", 7);
	cpio_finish(&b);
	assert_int_equal(fd_write_all(fd, b.data, b.len), 0);
	close(fd);
	(void)snprintf(cmd, sizeof(cmd), "cpio -i --to-stdout etc/hello < %s 2>/dev/null", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(line, sizeof(line), p));
	assert_string_equal(line, "hi");
	assert_int_equal(pclose(p), 0);
	unlink(path);
	cpio_buf_free(&b);
}

static char dir[64];

static int make_moddir(void **state)
{
	const char *dep = "kernel/a/mod-a.ko: kernel/b/mod_b.ko kernel/c/mod_c.ko\n"
			  "kernel/b/mod_b.ko: kernel/c/mod_c.ko\n"
			  "kernel/c/mod_c.ko:\n"
			  "kernel/d/loop1.ko: kernel/d/loop2.ko\n"
			  "kernel/d/loop2.ko: kernel/d/loop1.ko\n";
	char p[128];
	int dfd;

	strcpy(dir, "/tmp/hull-test-mod-XXXXXX");
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_PATH | O_DIRECTORY);
	assert_int_equal(fd_write_file_atomic_at(dfd, "modules.dep", dep, strlen(dep), 0644), 0);
	close(dfd);
	(void)snprintf(p, sizeof(p), "%s/kernel", dir);
	(void)state;
	return 0;
}

static int remove_moddir(void **state)
{
	char p[128];

	(void)snprintf(p, sizeof(p), "%s/modules.dep", dir);
	unlink(p);
	rmdir(dir);
	return 0;
}

static void test_modules_order(void **state)
{
	struct hull_err err = { 0 };
	char n1[] = "mod_a";
	char *names[] = { n1, NULL };
	char **paths = NULL;

	/* "mod_a" matches mod-a.ko: - and _ are the same in module names */
	assert_int_equal(modules_resolve(dir, names, &paths, &err), 0);
	assert_int_equal(strv_length(paths), 3);
	assert_string_equal(paths[0], "kernel/c/mod_c.ko"); /* dependencies first, once */
	assert_string_equal(paths[1], "kernel/b/mod_b.ko");
	assert_string_equal(paths[2], "kernel/a/mod-a.ko");
	strv_free(paths);
}

static void test_modules_missing_and_cycle(void **state)
{
	struct hull_err err = { 0 };
	char n1[] = "nope", n2[] = "loop1";
	char *missing[] = { n1, NULL };
	char *cycle[] = { n2, NULL };
	char **paths = NULL;

	assert_int_equal(modules_resolve(dir, missing, &paths, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "nope"));
	assert_non_null(strstr(err.msg, "modules.dep"));
	/* A dependency cycle in a corrupt modules.dep ends, with an error, not a stack overflow. */
	assert_int_equal(modules_resolve(dir, cycle, &paths, &err), -ELOOP);
	assert_int_equal(modules_resolve("/nonexistent", missing, &paths, &err), -ENOENT);
}

static void test_build_needs_busybox(void **state)
{
	struct cpio_buf b = { 0 };
	struct hull_err err = { 0 };
	struct initramfs_spec spec = { .busybox = "/nonexistent/busybox" };

	assert_int_equal(initramfs_build(&spec, &b, NULL, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent/busybox"));
	cpio_buf_free(&b);
}

/*
 * A fake module tree for the default modules: modules.dep (virtio_blk, virtio_pci and their
 * dependencies, or none of them), modules.builtin, and the .ko files the builder reads.
 */
static char tree[64];

static void tree_file(const char *rel, const char *data)
{
	char p[256];
	int dfd;

	(void)snprintf(p, sizeof(p), "%s/%s", tree, rel);
	for (char *s = strchr(p + strlen(tree) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		(void)mkdir(p, 0755);
		*s = '/';
	}
	dfd = open(tree, O_PATH | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(fd_write_file_atomic_at(dfd, rel, data, strlen(data), 0644), 0);
	close(dfd);
}

static void tree_make(const char *dep, const char *builtin)
{
	strcpy(tree, "/tmp/hull-test-tree-XXXXXX");
	assert_non_null(mkdtemp(tree));
	tree_file("modules.dep", dep);
	if (builtin)
		tree_file("modules.builtin", builtin);
	tree_file("kernel/drivers/virtio/virtio.ko", "ko");
	tree_file("kernel/drivers/virtio/virtio_ring.ko", "ko");
	tree_file("kernel/drivers/virtio/virtio_pci.ko", "ko");
	tree_file("kernel/drivers/block/virtio_blk.ko", "ko");
	tree_file("kernel/fs/other.ko", "ko");
}

static int tree_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void tree_remove(void)
{
	assert_int_equal(nftw(tree, tree_rm, 16, FTW_DEPTH | FTW_PHYS), 0);
	assert_int_equal(access(tree, F_OK), -1);
}

static const char virtio_dep[] =
	"kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"
	"kernel/drivers/virtio/virtio_ring.ko:\n"
	"kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio.ko\n"
	"kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko\n"
	"kernel/fs/other.ko:\n";

static bool has(const struct cpio_buf *b, const char *s)
{
	return memmem(b->data, b->len, s, strlen(s)) != NULL;
}

static void test_default_modules_packed(void **state)
{
	struct cpio_buf b = { 0 };
	struct hull_err err = { 0 };
	struct initramfs_info info;
	char n1[] = "other";
	char *mods[] = { n1, NULL };
	struct initramfs_spec spec = { .busybox = "/etc/hostname", .module_dir = tree,
				       .modules = mods };
	const char *order = "lib/modules/kernel/drivers/virtio/virtio_ring.ko\n"
			    "/lib/modules/kernel/drivers/virtio/virtio.ko\n"
			    "/lib/modules/kernel/drivers/virtio/virtio_pci.ko\n"
			    "/lib/modules/kernel/drivers/block/virtio_blk.ko\n"
			    "/lib/modules/kernel/fs/other.ko\n";

	tree_make(virtio_dep, NULL);
	/* --disk's modules come without being asked for, dependencies first, before the user's */
	assert_int_equal(initramfs_build(&spec, &b, &info, &err), 0);
	assert_true(has(&b, order));
	assert_string_equal(info.warning, "");
	assert_string_equal(info.module_dir, tree);
	cpio_buf_free(&b);
	tree_remove();
}

static void test_default_modules_missing_warns(void **state)
{
	struct cpio_buf b = { 0 };
	struct hull_err err = { 0 };
	struct initramfs_info info;
	struct initramfs_spec spec = { .busybox = "/etc/hostname", .module_dir = tree };

	tree_make("kernel/fs/other.ko:\n", NULL);
	assert_int_equal(initramfs_build(&spec, &b, &info, &err), 0);
	assert_non_null(strstr(info.warning, tree));
	assert_non_null(strstr(info.warning, "virtio_pci, virtio_blk"));
	assert_non_null(strstr(info.warning, "--disk"));
	assert_false(has(&b, ".ko"));
	cpio_buf_free(&b);
	tree_remove();
}

static void test_default_modules_built_in(void **state)
{
	struct cpio_buf b = { 0 };
	struct hull_err err = { 0 };
	struct initramfs_info info;
	char n1[] = "virtio-blk";
	char *mods[] = { n1, NULL };
	struct initramfs_spec spec = { .busybox = "/etc/hostname", .module_dir = tree,
				       .modules = mods };

	/* Built in: nothing to pack, nothing to warn about, and asking for one is no error. */
	tree_make("kernel/fs/other.ko:\n", "kernel/drivers/virtio/virtio_pci.ko\n"
					    "kernel/drivers/block/virtio_blk.ko\n");
	assert_int_equal(initramfs_build(&spec, &b, &info, &err), 0);
	assert_string_equal(info.warning, "");
	assert_false(has(&b, ".ko"));
	cpio_buf_free(&b);
	tree_remove();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpio_layout),
		cmocka_unit_test(test_cpio_readable_by_cpio),
		cmocka_unit_test_setup_teardown(test_modules_order, make_moddir, remove_moddir),
		cmocka_unit_test_setup_teardown(test_modules_missing_and_cycle, make_moddir,
						remove_moddir),
		cmocka_unit_test(test_build_needs_busybox),
		cmocka_unit_test(test_default_modules_packed),
		cmocka_unit_test(test_default_modules_missing_warns),
		cmocka_unit_test(test_default_modules_built_in),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
