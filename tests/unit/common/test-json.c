#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* uint64 fields take the whole range (issue 12 item 8); jansson alone stops at INT64_MAX. */
static void test_u64_full_range(void **state)
{
	static const uint64_t edges[] = { 0, 1, INT64_MAX, (uint64_t)INT64_MAX + 1,
					  UINT64_MAX - 1, UINT64_MAX };
	struct hull_err err = { 0 };
	uint64_t seed = 0x9e3779b97f4a7c15ULL;

	for (int n = 0; n < 2000; n++) {
		char doc[256];
		uint64_t want, got = 0, other = 0;
		json_t *v, *arr;
		const char *str = NULL;

		/* xorshift64: edges first, then values spread over every magnitude */
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		want = n < 6 ? edges[n] : seed >> (seed % 64);
		(void)snprintf(doc, sizeof(doc),
			       "{\"s\":\"\\\"%llu\",\"a\":[%llu,{\"v\":%llu}],\"v\":%llu,"
			       "\"w\":-1e3}",
			       (unsigned long long)want, (unsigned long long)want,
			       (unsigned long long)want, (unsigned long long)want);
		v = load(doc);
		assert_int_equal(hjson_get_u64(v, "v", "c.json", true, &got, &err), 0);
		assert_true(got == want);
		arr = json_object_get(v, "a");
		assert_int_equal(hjson_get_u64(json_array_get(arr, 1), "v", "c.json", true, &other,
					       &err), 0);
		assert_true(other == want);
		/* a number inside a string stays a string */
		assert_int_equal(hjson_get_str(v, "s", "c.json", true, &str, &err), 0);
		assert_int_equal(strtoull(str + 1, NULL, 10), want);
		json_decref(v);
	}
}

/* What is loaded or made with hjson_u64 is dumped as plain numbers and loads back the same
 * (a big one came out as a "\u0000u64:" string in config.json: `--ulimit core=-1`). */
static void test_u64_dump_round_trip(void **state)
{
	struct hull_err err = { 0 };
	uint64_t seed = 0x2545f4914f6cdd1dULL;

	for (int n = 0; n < 2000; n++) {
		uint64_t want, got = 0, again = 0;
		json_t *o = json_object(), *back = NULL;
		char *text;

		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		want = n == 0 ? UINT64_MAX : n == 1 ? (uint64_t)INT64_MAX + 1 : seed >> (seed % 64);
		(void)json_object_set_new(o, "v", hjson_u64(want));
		(void)json_object_set_new(o, "s", json_string("\"u64:1\""));
		text = hjson_dump(o, 0);
		assert_null(strstr(text, "\\u0000"));
		assert_int_equal(hjson_load_buf(text, strlen(text), "d.json", &back, &err), 0);
		assert_int_equal(hjson_get_u64(back, "v", "d.json", true, &got, &err), 0);
		assert_true(got == want);
		free(text);
		/* and a loaded document dumps the same numbers again */
		text = hjson_dump(back, 0);
		json_decref(back);
		assert_int_equal(hjson_load_buf(text, strlen(text), "d.json", &back, &err), 0);
		assert_int_equal(hjson_get_u64(back, "v", "d.json", true, &again, &err), 0);
		assert_true(again == want);
		assert_string_equal(json_string_value(json_object_get(back, "s")), "\"u64:1\"");
		free(text);
		json_decref(back);
		json_decref(o);
	}
}

static void test_u64_too_big_named(void **state)
{
	struct hull_err err = { 0 };
	json_t *v = load("{\"i\":9223372036854775808}");
	int64_t i = 0;
	uint64_t u = 0;

	assert_int_equal(hjson_get_int(v, "i", "config.json: process", true, 0, INT64_MAX, &i,
				       &err), -ERANGE);
	assert_non_null(strstr(err.msg, "config.json: process.i: 9223372036854775808 is too big"));
	json_decref(v);
	/* past uint64: a parse error, as before */
	assert_int_equal(hjson_load_buf("{\"u\":18446744073709551616}", 26, "c.json", &v, &err),
			 -EINVAL);
	assert_int_equal(hjson_load_buf("{\"u\":-9223372036854775809}", 26, "c.json", &v, &err),
			 -EINVAL);
	(void)u;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_error_names_file),
		cmocka_unit_test(test_typed_getters),
		cmocka_unit_test(test_u64_dump_round_trip),
		cmocka_unit_test(test_errors_name_the_field),
		cmocka_unit_test(test_u64_full_range),
		cmocka_unit_test(test_u64_too_big_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
