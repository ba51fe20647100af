/* layer_unpack on hand-made tar streams: what a layer may and may not do. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "image/digest.h"
#include "image/layer.h"
#include "image/store.h"

/* -Wl,--wrap=openat64 (meson.build; _FILE_OFFSET_BITS=64 names it so): count the opens an unpack costs. */
int __real_openat64(int dfd, const char *path, int flags, ...);
int __wrap_openat64(int dfd, const char *path, int flags, ...);
static unsigned long openat_calls;

int __wrap_openat64(int dfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (flags & (O_CREAT | __O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	openat_calls++;
	return __real_openat64(dfd, path, flags, mode);
}

/* -Wl,--wrap=path_open_in_root: the unpacker's openat2 (one kernel walk) counts as well. */
int __real_path_open_in_root(int root_fd, const char *path, int flags, mode_t mode,
			     unsigned long long extra_resolve);
int __wrap_path_open_in_root(int root_fd, const char *path, int flags, mode_t mode,
			     unsigned long long extra_resolve);

int __wrap_path_open_in_root(int root_fd, const char *path, int flags, mode_t mode,
			     unsigned long long extra_resolve)
{
	openat_calls++;
	return __real_path_open_in_root(root_fd, path, flags, mode, extra_resolve);
}

struct ent {
	const char *name;
	char type; /* f file, d dir, l symlink, h hardlink */
	const char *data; /* file content or link target */
};

/* Write the entries as a tar (optionally gzip) to a memfd; returns it at offset 0. */
static int make_tar(const struct ent *e, size_t n, bool gzip, size_t *ret_len)
{
	static char buf[1 << 20];
	struct archive *a = archive_write_new();
	size_t used = 0;
	int fd;

	archive_write_set_format_pax_restricted(a);
	if (gzip)
		archive_write_add_filter_gzip(a);
	assert_int_equal(archive_write_open_memory(a, buf, sizeof(buf), &used), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		size_t len = e[i].type == 'f' && e[i].data ? strlen(e[i].data) : 0;

		archive_entry_set_pathname(ae, e[i].name);
		archive_entry_set_perm(ae, 0644);
		switch (e[i].type) {
		case 'd': archive_entry_set_filetype(ae, AE_IFDIR); break;
		case 'l':
			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_symlink(ae, e[i].data);
			break;
		case 'h':
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_hardlink(ae, e[i].data);
			break;
		default:
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_size(ae, (la_int64_t)len);
		}
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (len)
			assert_int_equal(archive_write_data(a, e[i].data, len), (la_ssize_t)len);
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	fd = memfd_create("layer", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, used), (ssize_t)used);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	if (ret_len)
		*ret_len = used;
	return fd;
}

struct fixture {
	char dir[64];
	int dfd;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/hull-test-layer-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->dfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(f->dfd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	(void)close(f->dfd);
	(void)rm_rf_at(AT_FDCWD, f->dir);
	free(f);
	return 0;
}

static int unpack(struct fixture *f, const struct ent *e, size_t n, struct layer_limits lim,
		  struct hull_err *err, char *diff_id)
{
	int fd = make_tar(e, n, false, NULL);
	int r = layer_unpack(fd, f->dfd, "image t: layer x", &lim, diff_id, err);

	(void)close(fd);
	return r;
}

#define UNPACK(ents, err) unpack(*state, ents, sizeof(ents) / sizeof(ents[0]), LAYER_LIMITS_DEFAULT, err, diff)

static void test_plain_and_diff_id(void **state)
{
	struct fixture *f = *state;
	static const struct ent ents[] = {
		{ "./", 'd', NULL }, { "a/", 'd', NULL }, { "a/f", 'f', "hello" },
		{ "a/link", 'l', "f" }, { "a/hard", 'h', "a/f" },
	};
	char diff[DIGEST_STR_LEN + 1], want[DIGEST_STR_LEN + 1];
	struct hull_err err = { 0 };
	static char buf[1 << 20];
	size_t len = 0;
	int fd = make_tar(ents, 5, false, &len);
	struct stat a, b;

	assert_int_equal(read(fd, buf, len), (ssize_t)len);
	digest_buf(buf, len, want);
	(void)close(fd);
	assert_int_equal(UNPACK(ents, &err), 0);
	assert_string_equal(diff, want);
	assert_int_equal(fstatat(f->dfd, "a/f", &a, 0), 0);
	assert_int_equal(fstatat(f->dfd, "a/hard", &b, 0), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_size, 5);
}

static void test_gzip_gives_uncompressed_diff_id(void **state)
{
	struct fixture *f = *state;
	static const struct ent ents[] = { { "x", 'f', "zipped" } };
	char plain_id[DIGEST_STR_LEN + 1], gz_id[DIGEST_STR_LEN + 1];
	struct layer_limits lim = LAYER_LIMITS_DEFAULT;
	struct hull_err err = { 0 };
	int fd = make_tar(ents, 1, true, NULL);
	unsigned char magic[2];

	assert_int_equal(pread(fd, magic, 2, 0), 2);
	assert_int_equal(magic[0], 0x1f);
	assert_string_equal(layer_compression(fd), "gzip");
	assert_int_equal(layer_unpack(fd, f->dfd, "t", &lim, gz_id, &err), 0);
	(void)close(fd);
	(void)rm_rf_at(f->dfd, "x");
	fd = make_tar(ents, 1, false, NULL);
	assert_null(layer_compression(fd));
	assert_int_equal(layer_unpack(fd, f->dfd, "t", &lim, plain_id, &err), 0);
	(void)close(fd);
	assert_string_equal(gz_id, plain_id);
}

static void expect_fail(void **state, const struct ent *ents, size_t n, struct layer_limits lim,
			const char *needle)
{
	struct hull_err err = { 0 };
	char diff[DIGEST_STR_LEN + 1];

	assert_true(unpack(*state, ents, n, lim, &err, diff) < 0);
	if (!strstr(err.msg, needle))
		fail_msg("'%s' not in '%s'", needle, err.msg);
	assert_non_null(strstr(err.msg, "image t: layer x: "));
}

static void test_hostile(void **state)
{
	struct layer_limits lim = LAYER_LIMITS_DEFAULT;
	static const struct ent dotdot[] = { { "a/../../x", 'f', "x" } };
	static const struct ent absolute[] = { { "/etc/x", 'f', "x" } };
	static const struct ent through[] = { { "l", 'l', "/" }, { "l/etc/x", 'f', "x" } };
	static const struct ent hard_out[] = { { "h", 'h', "../x" } };
	static const struct ent hard_missing[] = { { "h", 'h', "nope" } };
	static const struct ent dup[] = { { "a", 'f', "1" }, { "a", 'l', "b" } };
	static const struct ent whiteout_dup[] = { { "a", 'f', "1" }, { ".wh.a", 'f', "" } };
	static const struct ent bad_wh[] = { { ".wh..", 'f', "" } };

	expect_fail(state, dotdot, 1, lim, "entry 'a/../../x': path with '..' leaves the layer");
	expect_fail(state, absolute, 1, lim, "entry '/etc/x': absolute path refused");
	expect_fail(state, through, 2, lim, "entry 'l/etc/x': goes through the symbolic link 'l'");
	expect_fail(state, hard_out, 1, lim, "entry 'h': hard link target ../x with '..'");
	expect_fail(state, hard_missing, 1, lim, "entry 'h': hard link target 'nope'");
	(void)rm_rf_at(((struct fixture *)*state)->dfd, "l");
	expect_fail(state, dup, 2, lim, "entry 'a': duplicate entry");
	(void)rm_rf_at(((struct fixture *)*state)->dfd, "a");
	expect_fail(state, whiteout_dup, 2, lim, "whiteout of a file the same layer adds");
	expect_fail(state, bad_wh, 1, lim, "invalid whiteout");
}

static void test_limits(void **state)
{
	struct fixture *f = *state;
	struct ent many[12];
	char names[12][8];
	static const struct ent big[] = { { "big", 'f', "0123456789abcdef" } };
	static const struct ent two[] = { { "a", 'f', "0123456789" }, { "b", 'f', "0123456789" } };
	struct layer_limits lim = LAYER_LIMITS_DEFAULT;

	for (int i = 0; i < 12; i++) {
		(void)snprintf(names[i], sizeof(names[i]), "f%d", i);
		many[i] = (struct ent){ names[i], 'f', "" };
	}
	lim.max_entries = 10;
	expect_fail(state, many, 12, lim, "more than 10 entries (entry 'f10')");
	lim = LAYER_LIMITS_DEFAULT;
	lim.max_entry_size = 10;
	expect_fail(state, big, 1, lim, "entry 'big': size 16 exceeds the 10 byte limit");
	lim = LAYER_LIMITS_DEFAULT;
	lim.max_total_size = 15;
	(void)f;
	expect_fail(state, two, 2, lim, "entry 'b': layer exceeds 15 bytes unpacked");
}

static void test_whiteouts_become_overlay_form(void **state)
{
	struct fixture *f = *state;
	static const struct ent ents[] = {
		{ "d/", 'd', NULL }, { "d/.wh.gone", 'f', "" }, { "o/", 'd', NULL },
		{ "o/.wh..wh..opq", 'f', "" }, { "o/kept", 'f', "k" },
	};
	struct hull_err err = { 0 };
	char diff[DIGEST_STR_LEN + 1], v[4];
	struct stat st;

	assert_int_equal(UNPACK(ents, &err), 0);
	assert_int_equal(fstatat(f->dfd, "d/gone", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(0, 0));
	assert_int_equal(faccessat(f->dfd, "d/.wh.gone", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	{
		int o = openat(f->dfd, "o", O_RDONLY | O_DIRECTORY);

		assert_int_equal(fgetxattr(o, "trusted.overlay.opaque", v, sizeof(v)), 1);
		assert_int_equal(v[0], 'y');
		(void)close(o);
	}
	assert_int_equal(faccessat(f->dfd, "o/kept", F_OK, 0), 0);
}

static void test_empty_blob_is_empty_layer(void **state)
{
	struct fixture *f = *state;
	struct layer_limits lim = LAYER_LIMITS_DEFAULT;
	struct hull_err err = { 0 };
	char diff[DIGEST_STR_LEN + 1], want[DIGEST_STR_LEN + 1];
	int fd = memfd_create("empty", MFD_CLOEXEC);

	digest_buf("", 0, want);
	assert_int_equal(layer_unpack(fd, f->dfd, "t", &lim, diff, &err), 0);
	assert_string_equal(diff, want);
	(void)close(fd);
}

static void test_not_a_tar(void **state)
{
	struct fixture *f = *state;
	struct layer_limits lim = LAYER_LIMITS_DEFAULT;
	struct hull_err err = { 0 };
	char diff[DIGEST_STR_LEN + 1];
	int fd = memfd_create("junk", MFD_CLOEXEC);

	assert_int_equal(write(fd, "this is not a tar archive at all, not even close......", 54), 54);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_true(layer_unpack(fd, f->dfd, "image j: layer y", &lim, diff, &err) < 0);
	assert_non_null(strstr(err.msg, "image j: layer y: "));
	(void)close(fd);
}

/*
 * Deep trees cost O(1) opens per entry (the open parent directories are kept), not one per
 * component: the old walker needed depth x files opens here (60,000), and 5,000 files at
 * depth 1,000 took 54 s. Entries move between siblings, a deeper directory, the root and
 * back, and each lands where its path says.
 */
static void test_deep_tree_opens_per_entry(void **state)
{
	enum { DEPTH = 150, FILES = 400 };
	struct fixture *f = *state;
	static char names[FILES][2 * DEPTH + 16];
	static struct ent ents[FILES];
	static char deep[2 * DEPTH + 1];
	char diff[DIGEST_STR_LEN + 1];
	struct hull_err err = { 0 };

	for (int i = 0; i < DEPTH; i++)
		memcpy(deep + 2 * i, i ? "/d" : "d/", 2);
	memcpy(deep, "d", 1);
	deep[2 * DEPTH - 1] = '\0';
	for (int i = 0; i < FILES; i++) {
		if (i % 50 == 7)
			(void)snprintf(names[i], sizeof(names[i]), "top%d", i);
		else if (i % 3 == 1)
			(void)snprintf(names[i], sizeof(names[i]), "%s/e/f%d", deep, i);
		else
			(void)snprintf(names[i], sizeof(names[i]), "%s/f%d", deep, i);
		ents[i] = (struct ent){ names[i], 'f', "x" };
	}
	openat_calls = 0;
	assert_int_equal(unpack(f, ents, FILES, LAYER_LIMITS_DEFAULT, &err, diff), 0);
	/* one walk down (DEPTH), then a handful per entry (the file, a new sub-directory) */
	assert_true(openat_calls >= DEPTH); /* the wrap counts (else this test proves nothing) */
	assert_true(openat_calls < 2 * DEPTH + 4 * FILES);
	for (int i = 0; i < FILES; i++) {
		struct stat st;

		assert_int_equal(fstatat(f->dfd, names[i], &st, AT_SYMLINK_NOFOLLOW), 0);
		assert_true(S_ISREG(st.st_mode));
	}
}

/*
 * Entries alternating between two deep branches that part at the root: a cache of one path
 * alone would walk the whole depth again for each entry (60,000 opens here; 3,000 such
 * entries at depth 1,000 took 87 s); each switch is one openat2 now.
 */
static void test_alternating_deep_branches(void **state)
{
	enum { DEPTH = 150, FILES = 400 };
	struct fixture *f = *state;
	static char names[FILES][2 * DEPTH + 16];
	static struct ent ents[FILES];
	char diff[DIGEST_STR_LEN + 1];
	struct hull_err err = { 0 };

	for (int i = 0; i < FILES; i++) {
		size_t o = 0;

		for (int k = 0; k < DEPTH; k++) {
			names[i][o++] = i % 2 ? 'a' : 'b';
			names[i][o++] = '/';
		}
		/* now and then a new directory deep in a branch (found by bisection) */
		(void)snprintf(names[i] + o, sizeof(names[i]) - o, i % 25 == 3 ? "n%d/f" : "f%d", i);
		ents[i] = (struct ent){ names[i], 'f', "x" };
	}
	openat_calls = 0;
	assert_int_equal(unpack(f, ents, FILES, LAYER_LIMITS_DEFAULT, &err, diff), 0);
	assert_true(openat_calls >= 2 * DEPTH);
	assert_true(openat_calls < 2 * DEPTH + 8 * FILES);
	for (int i = 0; i < FILES; i++) {
		struct stat st;

		assert_int_equal(fstatat(f->dfd, names[i], &st, AT_SYMLINK_NOFOLLOW), 0);
		assert_true(S_ISREG(st.st_mode));
	}
}

/* The kept directories do not weaken the checks: a link planted deep is still refused. */
static void test_deep_symlink_still_refused(void **state)
{
	static const struct ent ents[] = {
		{ "a/b/c/f", 'f', "x" }, { "a/b/l", 'l', "/etc" }, { "a/b/c/g", 'f', "x" },
		{ "a/b/l/passwd", 'f', "evil" },
	};
	/* the link is reached by a switch of branch (the one-call path), then deeper */
	static const struct ent switched[] = {
		{ "x/y/z/f", 'f', "x" }, { "x/y/l", 'l', "/etc" }, { "q/r/s/t", 'f', "x" },
		{ "x/y/l/cron.d/evil", 'f', "evil" },
	};
	struct hull_err err = { 0 };
	char diff[DIGEST_STR_LEN + 1];

	assert_true(UNPACK(ents, &err) < 0);
	assert_non_null(strstr(err.msg, "goes through the symbolic link 'l'"));
	(void)rm_rf_at(((struct fixture *)*state)->dfd, "a");
	memset(&err, 0, sizeof(err));
	assert_true(UNPACK(switched, &err) < 0);
	assert_non_null(strstr(err.msg, "entry 'x/y/l/cron.d/evil': goes through the symbolic "
				       "link 'l'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plain_and_diff_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gzip_gives_uncompressed_diff_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whiteouts_become_overlay_form, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_blob_is_empty_layer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_tar, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deep_tree_opens_per_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alternating_deep_branches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deep_symlink_still_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
