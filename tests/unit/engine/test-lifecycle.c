/* The lifecycle parsers and rules (src/engine/lifecycle.c): --restart policies against docker's
 * forms and seeded random strings, the monitor's backoff, and labels merged over the image's
 * and matched by `ps --filter label=`, with generated labels. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strv.h"
#include "engine/lifecycle.h"

static void test_restart_forms(void **state)
{
	static const char *const bad[] = { "", "yes", "always:3", "no:1", "on-failure:",
					   "on-failure:-1", "on-failure:x", "on-failure:3x",
					   "unless-stopped:2", "On-Failure", "on-failure:1234567890",
					   "always ", ":3" };
	struct ctr_restart p;

	(void)state;
	assert_int_equal(ctr_restart_parse("no", &p), 0);
	assert_int_equal(p.policy, CTR_RESTART_NO);
	assert_int_equal(ctr_restart_parse("always", &p), 0);
	assert_int_equal(p.policy, CTR_RESTART_ALWAYS);
	assert_int_equal(ctr_restart_parse("unless-stopped", &p), 0);
	assert_int_equal(p.policy, CTR_RESTART_UNLESS_STOPPED);
	assert_int_equal(ctr_restart_parse("on-failure", &p), 0);
	assert_int_equal(p.policy, CTR_RESTART_ON_FAILURE);
	assert_int_equal(p.max_retries, 0);
	assert_int_equal(ctr_restart_parse("on-failure:3", &p), 0);
	assert_int_equal(p.max_retries, 3);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("# %s\n", bad[i]);
		assert_int_equal(ctr_restart_parse(bad[i], &p), -EINVAL);
	}
	for (int i = 0; i < CTR_RESTART_COUNT; i++) {
		assert_int_equal(ctr_restart_parse(ctr_restart_name((enum ctr_restart_policy)i), &p),
				 0);
		assert_int_equal(p.policy, i);
	}
}

/* Random strings from the policies' alphabet: accepted exactly when docker's grammar says */
static void test_restart_random(void **state)
{
	static const char alpha[] = "noalwysfir-uetdp:0123456789x";
	char s[24], want[24];
	struct ctr_restart p;

	(void)state;
	srand(15);
	for (int n = 0; n < 20000; n++) {
		size_t len = (size_t)rand() % 20;
		int r;

		for (size_t i = 0; i < len; i++)
			s[i] = alpha[rand() % (int)(sizeof(alpha) - 1)];
		s[len] = '\0';
		if (n % 4 == 0) /* often a real name with a random tail */
			(void)snprintf(s, sizeof(s), "%s%s",
				       ctr_restart_name((enum ctr_restart_policy)(rand() % 4)),
				       (const char *[]){ "", ":", ":7", ":07x", ":-2" }[rand() % 5]);
		r = ctr_restart_parse(s, &p);
		if (r < 0)
			continue;
		/* what was accepted prints back to the same policy */
		if (p.policy == CTR_RESTART_ON_FAILURE && strchr(s, ':'))
			(void)snprintf(want, sizeof(want), "on-failure:%d", p.max_retries);
		else
			(void)snprintf(want, sizeof(want), "%s", ctr_restart_name(p.policy));
		if (strcmp(s, want) != 0) {
			/* only leading zeros may differ */
			assert_int_equal(p.policy, CTR_RESTART_ON_FAILURE);
			assert_int_equal(strtol(strchr(s, ':') + 1, NULL, 10), p.max_retries);
		}
	}
}

static void test_restart_rules(void **state)
{
	struct ctr_restart p = { CTR_RESTART_ON_FAILURE, 3 };

	(void)state;
	assert_true(ctr_restart_wanted(&p, 1, 0, false));
	assert_true(ctr_restart_wanted(&p, 137, 2, false));
	assert_false(ctr_restart_wanted(&p, 1, 3, false));
	assert_false(ctr_restart_wanted(&p, 0, 0, false));
	assert_false(ctr_restart_wanted(&p, 1, 0, true));
	p = (struct ctr_restart){ CTR_RESTART_ALWAYS, 0 };
	assert_true(ctr_restart_wanted(&p, 0, 1000, false));
	assert_false(ctr_restart_wanted(&p, 0, 0, true));
	p = (struct ctr_restart){ CTR_RESTART_UNLESS_STOPPED, 0 };
	assert_true(ctr_restart_wanted(&p, 1, 5, false));
	assert_false(ctr_restart_wanted(&p, 1, 5, true));
	p = (struct ctr_restart){ CTR_RESTART_NO, 0 };
	assert_false(ctr_restart_wanted(&p, 1, 0, false));
	p = (struct ctr_restart){ CTR_RESTART_ON_FAILURE, 0 };
	assert_true(ctr_restart_wanted(&p, 2, 100000, false));
	/* docker's backoff */
	assert_int_equal(ctr_restart_delay_ms(0, 0), 100);
	assert_int_equal(ctr_restart_delay_ms(100, 50), 200);
	assert_int_equal(ctr_restart_delay_ms(200, 9999), 400);
	assert_int_equal(ctr_restart_delay_ms(400, 10000), 100);
	assert_int_equal(ctr_restart_delay_ms(51200, 0), 60000);
	assert_int_equal(ctr_restart_delay_ms(60000, 0), 60000);
}

static void test_label_valid(void **state)
{
	(void)state;
	assert_true(ctr_label_is_valid("a"));
	assert_true(ctr_label_is_valid("a=b=c"));
	assert_true(ctr_label_is_valid("com.example.x="));
	assert_false(ctr_label_is_valid(""));
	assert_false(ctr_label_is_valid("=v"));
	assert_false(ctr_label_is_valid("a\nb=c"));
	assert_false(ctr_label_is_valid("a=b\x7f"));
}

/* Generated labels: the image's, then flags with repeated keys; the merge keeps the last
 * value of each key, and the filter finds exactly those. */
static void test_labels_generated(void **state)
{
	(void)state;
	srand(1515);
	for (int round = 0; round < 200; round++) {
		json_t *img = json_object();
		char *model_k[64], *model_v[64];
		char **flags = NULL, **merged;
		size_t n = 0;

		for (int i = 0; i < rand() % 8; i++) {
			char k[16], v[16];

			(void)snprintf(k, sizeof(k), "k%d", rand() % 12);
			(void)snprintf(v, sizeof(v), "i%d", rand() % 100);
			(void)json_object_set_new(img, k, json_string(v));
		}
		for (int i = 0; i < rand() % 10; i++) {
			char kv[40];
			int k = rand() % 12;

			if (rand() % 3 == 0)
				(void)snprintf(kv, sizeof(kv), "k%d", k);
			else
				(void)snprintf(kv, sizeof(kv), "k%d=f%d=x", k, rand() % 100);
			strv_push(&flags, kv);
		}
		merged = ctr_labels_merge(img, flags);
		/* the model: keys 0..11, the last flag else the image */
		for (int k = 0; k < 12; k++) {
			char key[16], eq[20];
			const char *val = NULL;
			char *last = NULL;

			(void)snprintf(key, sizeof(key), "k%d", k);
			(void)snprintf(eq, sizeof(eq), "k%d=", k);
			val = json_string_value(json_object_get(img, key));
			for (size_t i = 0; flags && flags[i]; i++)
				if (strcmp(flags[i], key) == 0 || strncmp(flags[i], eq, strlen(eq)) == 0)
					last = flags[i];
			if (last)
				val = last[strlen(key)] ? last + strlen(key) + 1 : "";
			if (!val) {
				assert_false(ctr_labels_match(merged, key));
				continue;
			}
			model_k[n] = strdup(key);
			model_v[n++] = strdup(val);
			assert_true(ctr_labels_match(merged, key));
			{
				char *f = NULL;

				assert_true(asprintf(&f, "%s=%s", key, val) > 0);
				assert_true(ctr_labels_match(merged, f));
				free(f);
				assert_true(asprintf(&f, "%s=%s-not", key, val) > 0);
				assert_false(ctr_labels_match(merged, f));
				free(f);
			}
		}
		assert_int_equal(strv_length(merged), n);
		for (size_t i = 1; i < n; i++)
			assert_true(strcmp(merged[i - 1], merged[i]) < 0);
		for (size_t i = 0; i < n; i++) {
			free(model_k[i]);
			free(model_v[i]);
		}
		strv_free(merged);
		strv_free(flags);
		json_decref(img);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_forms),  cmocka_unit_test(test_restart_random),
		cmocka_unit_test(test_restart_rules),  cmocka_unit_test(test_label_valid),
		cmocka_unit_test(test_labels_generated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
