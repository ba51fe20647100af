/* registries.conf (regconf.c): the TOML subset, drop-ins, prefixes; generated garbage. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "image/regconf.h"

static char dir[] = "/tmp/test-regconf-XXXXXX";

static char *write_conf(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void test_parse(void **state)
{
	struct regconf c;
	struct hull_err err = { 0 };
	char *p = write_conf("a.conf",
		"# hull's subset\n"
		"unqualified-search-registries = [ \"one.example\" , 'two.example:5000', # c\n"
		"   \"three\\\"q\" ]\n"
		"short-name-mode = \"enforcing\"\n"
		"[aliases]\n  \"fedora\" = \"registry.fedoraproject.org/fedora\"\n"
		"[[registry]]\nprefix = \"example.com/foo\"\nlocation = \"mirror.example/bar\"\n"
		"insecure = true\n\n  [[ registry.mirror ]]\n  location = \"m1.example\"\n"
		"  [[registry.mirror]]\n  location = \"m2.example\"\n  insecure = true\n"
		"[[registry]]\nlocation = \"blocked.example\"\nblocked = true  # no\n"
		"[[registry]]\nprefix = \"*.wild.example\"\ninsecure = true\n");
	const struct regconf_registry *g;
	char *s;

	(void)state;
	assert_int_equal(regconf_load(p, &c, &err), 0);
	assert_string_equal(c.search[0], "one.example");
	assert_string_equal(c.search[1], "two.example:5000");
	assert_string_equal(c.search[2], "three\"q");
	assert_null(c.search[3]);
	assert_int_equal(c.n_regs, 3);
	g = regconf_find(&c, "example.com/foo/x");
	assert_non_null(g);
	assert_true(g->insecure && !g->blocked && g->n_mirrors == 2);
	assert_true(!g->mirrors[0].insecure && g->mirrors[1].insecure);
	s = regconf_rewrite(g, g->location, "example.com/foo/x/y");
	assert_string_equal(s, "mirror.example/bar/x/y");
	free(s);
	s = regconf_rewrite(g, g->mirrors[0].location, "example.com/foo/x");
	assert_string_equal(s, "m1.example/x");
	free(s);
	assert_null(regconf_find(&c, "example.com/foobar/x"));
	assert_true(regconf_find(&c, "blocked.example/a")->blocked);
	assert_true(regconf_find(&c, "a.wild.example:5000/x")->insecure);
	assert_null(regconf_find(&c, "wild.example/x"));
	regconf_free(&c);
	free(p);
}

static void test_dropins(void **state)
{
	struct regconf c;
	struct hull_err err = { 0 };
	char *d = xasprintf("%s/b.conf.d", dir);
	char *p = write_conf("b.conf", "unqualified-search-registries = [\"a\"]\n"
			     "[[registry]]\nlocation = \"x.example\"\ninsecure = true\n");
	char *d1, *d2;

	(void)state;
	assert_int_equal(mkdir(d, 0700), 0);
	d1 = write_conf("b.conf.d/10.conf", "[[registry]]\nlocation = \"x.example\"\n"
			"blocked = true\n");
	d2 = write_conf("b.conf.d/20.conf", "unqualified-search-registries = []\n");
	assert_int_equal(regconf_load(p, &c, &err), 0);
	assert_non_null(c.search);
	assert_null(c.search[0]);
	assert_int_equal(c.n_regs, 1);
	assert_true(c.regs[0].blocked && !c.regs[0].insecure);
	regconf_free(&c);
	unlink(d1), unlink(d2), rmdir(d);
	free(d1), free(d2), free(d), free(p);
}

static void test_missing_is_empty(void **state)
{
	struct regconf c;
	struct hull_err err = { 0 };
	char *p = xasprintf("%s/nothere.conf", dir);

	(void)state;
	assert_int_equal(regconf_load(p, &c, &err), 0);
	assert_null(c.search);
	assert_int_equal(c.n_regs, 0);
	free(p);
}

/* Seeded random bytes and token soup: an answer (0 or -EINVAL naming the file), never a
 * crash, within the limits. */
static void test_generated(void **state)
{
	static const char *tok[] = { "[[registry]]", "[[registry.mirror]]", "[x]", "[", "]",
				     "\"", "'", "=", "location", "prefix", "insecure", "true",
				     "false", "\"a.example\"", ",", "#", "\n", " ", "\\", "[[",
				     "unqualified-search-registries", "blocked", "\"*.w\"" };
	unsigned seed = getenv("HULL_TEST_SEED") ? (unsigned)atoi(getenv("HULL_TEST_SEED"))
						 : 19;
	char buf[512];

	(void)state;
	srand(seed);
	for (int i = 0; i < 2000; i++) {
		struct regconf c;
		struct hull_err err = { 0 };
		size_t n = 0;
		char *p;
		int r;

		while (n < sizeof(buf) - 32 && rand() % 40) {
			const char *t = tok[rand() % (sizeof(tok) / sizeof(tok[0]))];

			if (i % 2)
				buf[n++] = (char)(1 + rand() % 255);
			else
				n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s", t);
		}
		buf[n] = '\0';
		p = write_conf("gen.conf", buf);
		r = regconf_load(p, &c, &err);
		if (r < 0) {
			assert_int_equal(r, -EINVAL);
			assert_non_null(strstr(err.msg, p));
		} else {
			for (size_t k = 0; k < c.n_regs; k++)
				assert_non_null(c.regs[k].prefix);
			regconf_free(&c);
		}
		free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_dropins),
		cmocka_unit_test(test_missing_is_empty),
		cmocka_unit_test(test_generated),
	};
	int r;

	if (!mkdtemp(dir))
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	{
		char *p = xasprintf("%s/a.conf", dir), *q = xasprintf("%s/b.conf", dir),
		     *g = xasprintf("%s/gen.conf", dir);

		unlink(p), unlink(q), unlink(g);
		free(p), free(q), free(g);
	}
	return rmdir(dir) == 0 ? r : 1;
}
