/* cli_getopt (src/cli/opt.c): full names only, --bool=false, clusters, permutation, and a
 * seeded random mix of all of them checked against a model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/opt.h"

enum { O_RM = 256, O_NAME, O_PIDS, O_PRIV };

static const struct cli_option opts[] = {
	{ "detach", no_argument, NULL, 'd', NULL, "detach" },
	{ "tty", no_argument, NULL, 't', NULL, "tty" },
	{ "rm", no_argument, NULL, O_RM, NULL, "rm" },
	{ "name", required_argument, NULL, O_NAME, "NAME", "name" },
	{ "env", required_argument, NULL, 'e', "K=V", "env" },
	{ "pids-limit", required_argument, NULL, O_PIDS, "N", "pids" },
	{ "privileged", no_argument, NULL, O_PRIV, NULL, "privileged" },
	{ 0 },
};
static const struct cli_command cmd = {
	.name = "run", .args = "IMAGE", .optstring = "+dte:", .opts = opts,
};

struct got {
	int c;
	char arg[32];
	bool on;
};

/* Parse argv (NULL-terminated, argv[0] "run") into got[]; returns the count, optind after. */
static int parse(const struct cli_command *def, char **argv, struct got *got, int *ret_optind)
{
	int argc = 0, n = 0, c;

	while (argv[argc])
		argc++;
	optind = 0;
	while ((c = cli_getopt(argc, argv, def)) != -1) {
		got[n].c = c;
		(void)snprintf(got[n].arg, sizeof(got[n].arg), "%s", optarg ? optarg : "");
		got[n].on = cli_opt_on;
		n++;
		if (c == '?')
			break;
	}
	*ret_optind = optind;
	return n;
}

static void test_full_names_and_forms(void **state)
{
	char *argv[] = { "run", "--rm=false", "--name=x", "--name", "y", "-it", "-eA=1", "-e",
			 "B=2", "--detach=true", "--tty=0", "img", "--rm", NULL };
	static const struct cli_command it = { .name = "run", .optstring = "+ite:", .opts = opts };
	struct got g[16];
	int end, n = parse(&it, argv, g, &end);

	assert_int_equal(n, 9);
	assert_int_equal(g[0].c, O_RM);
	assert_false(g[0].on);
	assert_string_equal(g[0].arg, ""); /* the value is not left in optarg */
	assert_int_equal(g[1].c, O_NAME);
	assert_string_equal(g[1].arg, "x");
	assert_string_equal(g[2].arg, "y");
	assert_int_equal(g[3].c, 'i');
	assert_int_equal(g[4].c, 't');
	assert_string_equal(g[5].arg, "A=1");
	assert_string_equal(g[6].arg, "B=2");
	assert_int_equal(g[7].c, 'd');
	assert_true(g[7].on);
	assert_int_equal(g[8].c, 't');
	assert_false(g[8].on);
	assert_int_equal(end, 11); /* "+": the operand stops the options */
}

static void test_abbreviations_refused(void **state)
{
	static const char *const bad[] = { "--pid", "--pids", "--priv", "--na", "--det", "--r",
					   "--pids-limi=5", "--rm-", "--tt=1", "--detachx" };
	struct got g[4];
	int end;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = { "run", (char *)bad[i], "5", "img", NULL };

		assert_int_equal(parse(&cmd, argv, g, &end), 1);
		assert_int_equal(g[0].c, '?');
	}
}

static void test_bad_values(void **state)
{
	char *bad_bool[] = { "run", "--rm=yes", "img", NULL };
	char *no_arg[] = { "run", "--name", NULL };
	char *no_short_arg[] = { "run", "-e", NULL };
	char *bad_short[] = { "run", "-x", NULL };
	struct got g[4];
	int end;

	assert_int_equal(parse(&cmd, bad_bool, g, &end), 1);
	assert_int_equal(g[0].c, '?');
	assert_int_equal(parse(&cmd, no_arg, g, &end), 1);
	assert_int_equal(g[0].c, '?');
	assert_int_equal(parse(&cmd, no_short_arg, g, &end), 1);
	assert_int_equal(g[0].c, '?');
	assert_int_equal(parse(&cmd, bad_short, g, &end), 1);
	assert_int_equal(g[0].c, '?');
}

static void test_double_dash_and_permutation(void **state)
{
	static const struct cli_command perm = { .name = "img", .optstring = "e:", .opts = opts };
	char *dd[] = { "run", "-d", "--", "--rm", NULL };
	char *pv[] = { "img", "file", "--rm=false", "x", "-e", "K", "--pids-limit", "3", NULL };
	char *pbad[] = { "img", "file", "x", "--pi", "3", NULL };
	struct got g[8];
	int end;

	assert_int_equal(parse(&cmd, dd, g, &end), 1);
	assert_int_equal(end, 3);
	/* without '+', options after operands count, and abbreviations there too are refused */
	assert_int_equal(parse(&perm, pv, g, &end), 3);
	assert_int_equal(g[0].c, O_RM);
	assert_false(g[0].on);
	assert_string_equal(g[1].arg, "K");
	assert_string_equal(g[2].arg, "3");
	assert_int_equal(end, 6);
	assert_string_equal(pv[end], "file");
	assert_string_equal(pv[end + 1], "x");
	assert_int_equal(parse(&perm, pbad, g, &end), 1);
	assert_int_equal(g[0].c, '?');
}

static void test_long_only(void **state)
{
	static const struct cli_command oci = {
		.name = "exec", .optstring = "+dte:", .opts = opts, .flags = CLI_LONG_ONLY,
	};
	char *ok[] = { "exec", "-name", "x", "-detach=false", "-td", "-eK=V", "--rm", "id", NULL };
	char *abbr[] = { "exec", "-nam", "x", "id", NULL };
	char *noclu[] = { "exec", "-dx", "id", NULL };
	struct got g[8];
	int end;

	assert_int_equal(parse(&oci, ok, g, &end), 6);
	assert_int_equal(g[0].c, O_NAME);
	assert_string_equal(g[0].arg, "x");
	assert_int_equal(g[1].c, 'd');
	assert_false(g[1].on);
	assert_int_equal(g[2].c, 't');
	assert_int_equal(g[3].c, 'd');
	assert_string_equal(g[4].arg, "K=V");
	assert_int_equal(g[5].c, O_RM);
	assert_int_equal(end, 7);
	assert_int_equal(parse(&oci, abbr, g, &end), 1);
	assert_int_equal(g[0].c, '?');
	assert_int_equal(parse(&oci, noclu, g, &end), 1);
	assert_int_equal(g[0].c, '?');
}

/*
 * Seeded random command lines: each token is a full long option (with "=value" or a
 * separate value), a boolean with =true/=false, a short option, or an abbreviation; the
 * parser must return exactly the model's sequence and stop at the first abbreviation.
 */
static void test_random_against_model(void **state)
{
	unsigned seed = 11;

	for (int round = 0; round < 2000; round++) {
		char store[24][40], *argv[26];
		struct got want[24], g[24];
		int argc = 0, nwant = 0, end, n;
		bool stopped = false;

		argv[argc++] = "run";
		for (int k = 0, len = rand_r(&seed) % 8; k < len; k++) {
			const struct cli_option *o = &opts[rand_r(&seed) % 7];
			int kind = rand_r(&seed) % 5;
			char *s = store[argc];
			struct got *w = &want[nwant];

			memset(w, 0, sizeof(*w));
			w->c = o->val;
			w->on = true;
			if (kind == 0 && strlen(o->name) > 2) { /* an abbreviation */
				(void)snprintf(s, 40, "--%.*s", (int)strlen(o->name) - 1, o->name);
				argv[argc++] = s;
				w->c = '?';
				nwant += !stopped;
				stopped = true;
				continue;
			}
			if (o->has_arg == required_argument) {
				(void)snprintf(w->arg, sizeof(w->arg), "v%d", k);
				if (kind == 1) {
					(void)snprintf(s, 40, "--%s=%s", o->name, w->arg);
					argv[argc++] = s;
				} else {
					(void)snprintf(s, 40, "--%s", o->name);
					argv[argc++] = s;
					(void)snprintf(store[argc], 40, "%s", w->arg);
					argv[argc] = store[argc];
					argc++;
				}
			} else if (kind == 2 && o->val < 128) {
				(void)snprintf(s, 40, "-%c", o->val);
				argv[argc++] = s;
			} else if (kind >= 3) {
				w->on = kind == 3;
				(void)snprintf(s, 40, "--%s=%s", o->name, w->on ? "true" : "0");
				argv[argc++] = s;
			} else {
				(void)snprintf(s, 40, "--%s", o->name);
				argv[argc++] = s;
			}
			nwant += !stopped;
		}
		argv[argc++] = "img";
		argv[argc] = NULL;
		n = parse(&cmd, argv, g, &end);
		assert_int_equal(n, nwant);
		for (int i = 0; i < n; i++) {
			assert_int_equal(g[i].c, want[i].c);
			if (want[i].c != '?') {
				assert_string_equal(g[i].arg, want[i].arg);
				assert_int_equal(g[i].on, want[i].on);
			}
		}
		if (!stopped)
			assert_string_equal(argv[end], "img");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_names_and_forms),
		cmocka_unit_test(test_abbreviations_refused),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_double_dash_and_permutation),
		cmocka_unit_test(test_long_only),
		cmocka_unit_test(test_random_against_model),
	};

	/* the refusals print their one line each: keep the TAP output readable */
	if (!freopen("/dev/null", "w", stderr))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
