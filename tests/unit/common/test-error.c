#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"

static void test_set_appends_strerror(void **state)
{
	struct hull_err err = { 0 };

	assert_int_equal(hull_err_set(&err, ENOENT, "open %s", "/x"), -ENOENT);
	assert_int_equal(err.code, ENOENT);
	assert_string_equal(err.msg, "open /x: No such file or directory");
}

static void test_setx_and_prefix(void **state)
{
	struct hull_err err = { 0 };

	assert_int_equal(hull_err_setx(&err, EINVAL, "bad %d", 3), -EINVAL);
	assert_string_equal(err.msg, "bad 3");
	assert_int_equal(hull_err_prefix(&err, "config.json"), -EINVAL);
	assert_string_equal(err.msg, "config.json: bad 3");
	assert_true(hull_err_is_set(&err));
	hull_err_clear(&err);
	assert_false(hull_err_is_set(&err));
}

static void test_zero_and_negative_errno(void **state)
{
	struct hull_err err = { 0 };

	/* a failure is always a failure, even when errno was 0 */
	assert_int_equal(hull_err_setx(&err, 0, "x"), -EINVAL);
	assert_int_equal(hull_err_setx(&err, -EPERM, "x"), -EPERM);
	assert_int_equal(hull_err_set(NULL, EIO, "no object"), -EIO);
}

static void test_truncation(void **state)
{
	struct hull_err err = { 0 };
	char big[3000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	(void)hull_err_set(&err, EIO, "%s", big);
	assert_int_equal(strlen(err.msg), HULL_ERR_MSG_MAX - 1);
	(void)hull_err_prefix(&err, "p");
	assert_int_equal(strlen(err.msg), HULL_ERR_MSG_MAX - 1);
	assert_memory_equal(err.msg, "p: aaa", 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_appends_strerror),
		cmocka_unit_test(test_setx_and_prefix),
		cmocka_unit_test(test_zero_and_negative_errno),
		cmocka_unit_test(test_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
