/* mountinfo_find: the longest mount point that holds a path, the top one of a stack, escaped
 * names, the shared/master optional fields, and lines it must not be fooled by. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/mountinfo.h"

static const char text[] =
	"27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
	"40 27 0:30 / /tmp/a rw shared:3 - tmpfs t rw\n"
	"41 40 0:31 / /tmp/a/b rw master:7 - tmpfs t rw\n"
	"42 27 0:32 / /tmp/ab rw shared:9 master:2 - tmpfs t rw\n"
	"43 27 0:33 / /tmp/with\\040space rw shared:4 - tmpfs t rw\n"
	"44 40 0:34 / /tmp/a rw - tmpfs over rw\n" /* stacked on 40: private */
	"45 27 0:35 / /opt/x rw - tmpfs not\\040shared:1 rw\n";

static void check(const char *path, const char *mp, int shared, int slave)
{
	struct mount_prop p;

	assert_int_equal(mountinfo_find(text, path, &p), 0);
	assert_string_equal(p.mount_point, mp);
	assert_int_equal(p.shared, shared);
	assert_int_equal(p.slave, slave);
}

static void test_find(void **state)
{
	struct mount_prop p;

	(void)state;
	check("/", "/", 0, 0);
	check("/usr/bin", "/", 0, 0);
	check("/tmp/a", "/tmp/a", 0, 0);        /* the top of the stack: private */
	check("/tmp/a/c", "/tmp/a", 0, 0);
	check("/tmp/a/b/c", "/tmp/a/b", 0, 1);
	check("/tmp/ab", "/tmp/ab", 1, 1);      /* not /tmp/a: a name prefix is not a path one */
	check("/tmp/abc", "/", 0, 0);
	check("/tmp/with space/f", "/tmp/with space", 1, 0);
	check("/opt/x", "/opt/x", 0, 0);        /* "shared:" after " - " is not an optional field */
	assert_int_equal(mountinfo_find(text, "rel/path", &p), -EINVAL);
	assert_int_equal(mountinfo_find("", "/", &p), -ENOENT);
	/* cut lines and garbage: no match, no crash */
	assert_int_equal(mountinfo_find("27 1 254:0 /", "/", &p), -ENOENT);
	assert_int_equal(mountinfo_find("x\n\n \n", "/", &p), -ENOENT);
}

static void test_self(void **state)
{
	struct mount_prop p;

	(void)state;
	assert_int_equal(mountinfo_find_self("/", &p), 0);
	assert_string_equal(p.mount_point, "/");
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_find),
					    cmocka_unit_test(test_self) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}
