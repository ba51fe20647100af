#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/json.h"
#include "common/strv.h"

static json_t *load(const char *s)
{
	struct hull_err err = { 0 };
	json_t *v = NULL;

	assert_int_equal(hjson_load_buf(s, strlen(s), "t.json", &v, &err), 0);
	return v;
}

static void test_parse_error_names_file(void **state)
{
	struct hull_err err = { 0 };
	json_t *v = NULL;

	assert_int_equal(hjson_load_buf("{\"a\":", 5, "config.json", &v, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "config.json: line 1"));
	/* duplicate keys are ambiguous: refuse them */
	assert_int_equal(hjson_load_buf("{\"a\":1,\"a\":2}", 13, "c.json", &v, &err), -EINVAL);
}

static void test_typed_getters(void **state)
{
	struct hull_err err = { 0 };
	json_t *v = load("{\"s\":\"x\",\"b\":true,\"i\":-5,\"u\":7,\"o\":{},\"a\":[\"p\",\"q\"],\"n\":null}");
	const char *s = NULL;
	bool b = false;
	int64_t i = 0;
	uint64_t u = 0;
	char **sv = NULL;
	json_t *o = NULL;

	assert_int_equal(hjson_get_str(v, "s", "t.json: process", true, &s, &err), 0);
	assert_string_equal(s, "x");
	assert_int_equal(hjson_get_bool(v, "b", "t.json", true, &b, &err), 0);
	assert_true(b);
	assert_int_equal(hjson_get_int(v, "i", "t.json", true, -10, 10, &i, &err), 0);
	assert_int_equal(i, -5);
	assert_int_equal(hjson_get_u64(v, "u", "t.json", true, &u, &err), 0);
	assert_int_equal(u, 7);
	assert_int_equal(hjson_get_obj(v, "o", "t.json", true, &o, &err), 0);
	assert_int_equal(hjson_get_strv(v, "a", "t.json", true, 10, &sv, &err), 0);
	assert_int_equal(strv_length(sv), 2);
	strv_free(sv);

	/* absent or null and optional: untouched, success */
	s = "keep";
	assert_int_equal(hjson_get_str(v, "n", "t.json", false, &s, &err), 0);
	assert_string_equal(s, "keep");
	json_decref(v);
}

static void test_errors_name_the_field(void **state)
{
	struct hull_err err = { 0 };
	json_t *v = load("{\"args\":[\"a\",1],\"i\":20,\"u\":-1,\"s\":3}");
	char **sv = NULL;
	const char *s = NULL;
	int64_t i;
	uint64_t u;

	assert_int_equal(hjson_get_strv(v, "args", "config.json: process", true, 10, &sv, &err),
			 -EINVAL);
	assert_string_equal(err.msg, "config.json: process.args[1]: expected a string, got integer");
	assert_int_equal(hjson_get_strv(v, "args", "config.json", true, 1, &sv, &err), -E2BIG);
	assert_int_equal(hjson_get_int(v, "i", "c.json", true, 0, 10, &i, &err), -ERANGE);
	assert_int_equal(hjson_get_u64(v, "u", "c.json", true, &u, &err), -ERANGE);
	assert_int_equal(hjson_get_str(v, "s", "config.json", true, &s, &err), -EINVAL);
	assert_string_equal(err.msg, "config.json: s: expected a string, got integer");
	assert_int_equal(hjson_get_str(v, "missing", "config.json: root", true, &s, &err), -EINVAL);
	assert_string_equal(err.msg, "config.json: root.missing: required field is missing");
	assert_null(sv);
	json_decref(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_error_names_file),
		cmocka_unit_test(test_typed_getters),
		cmocka_unit_test(test_errors_name_the_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
