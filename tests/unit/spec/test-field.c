/* spec_field_apply: each field type lands in its member and sets its has_ flag, and a string
 * replaces (and frees) the one before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "spec/spec-field.h"
#include "spec/spec.h"

#define SET(t, field, has, n, s)                                                             \
	((struct spec_field_set){ .name = #field, .type = SPEC_FIELD_##t,                   \
				  .off = offsetof(struct oci_spec, field), .has_off = has,  \
				  .num = n, .str = s })
#define HAS(field) offsetof(struct oci_spec, field)

static void test_each_type(void **state)
{
	struct oci_defaults d = { 0 };
	struct oci_spec *s = spec_new_default(&d);
	struct spec_field_set v[] = {
		SET(INT, process.oom_score_adj, HAS(process.has_oom_score_adj), -1000, NULL),
		SET(I64, resources.cpu_quota, HAS(resources.has_cpu_quota), -1, NULL),
		SET(U64, resources.cpu_period, HAS(resources.has_cpu_period), 1000000, NULL),
		SET(BOOL, resources.disable_oom, HAS(resources.has_disable_oom), 1, NULL),
		SET(STR, resources.mems, SPEC_FIELD_NO_FLAG, 0, "0-1"),
		SET(STR, resources.mems, SPEC_FIELD_NO_FLAG, 0, "2"),
	};

	(void)state;
	assert_false(s->process.has_oom_score_adj);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		spec_field_apply(s, &v[i]);
	assert_true(s->process.has_oom_score_adj);
	assert_int_equal(s->process.oom_score_adj, -1000);
	assert_true(s->resources.has_cpu_quota);
	assert_true(s->resources.cpu_quota == -1);
	assert_true(s->resources.has_cpu_period);
	assert_true(s->resources.cpu_period == 1000000);
	assert_true(s->resources.has_disable_oom && s->resources.disable_oom);
	assert_string_equal(s->resources.mems, "2");
	/* the fields next to them are untouched */
	assert_false(s->resources.has_cpu_shares);
	assert_false(s->resources.has_mem_limit);
	spec_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_each_type) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}
