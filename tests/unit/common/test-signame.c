#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <ctype.h>
#include <signal.h>

#include "common/signame.h"

static void test_table(void **state)
{
	const struct {
		const char *in;
		int want;
	} c[] = {
		{ "TERM", SIGTERM },	    { "sigterm", SIGTERM },	   { "SIGKILL", SIGKILL },
		{ "9", 9 },		    { "ABRT", SIGABRT },	   { "abrt", SIGABRT },
		{ "IOT", SIGABRT },	    { "CLD", SIGCHLD },		   { "POLL", SIGIO },
		{ "RTMIN", SIGRTMIN },	    { "SIGRTMIN+3", SIGRTMIN + 3 }, { "rtmax-2", SIGRTMAX - 2 },
		{ "SIGRTMAX", SIGRTMAX },   { "64", 64 },		   { "0", -EINVAL },
		{ "65", -EINVAL },	    { "", -EINVAL },		   { "SIG", -EINVAL },
		{ "RTMIN+31", -EINVAL },    { "RTMIN-1", -EINVAL },	   { "RTMAX+1", -EINVAL },
		{ "RTMIN+", -EINVAL },	    { "RTMIN3", -EINVAL },	   { "9x", -EINVAL },
		{ "-9", -EINVAL },	    { "FOO", -EINVAL },		   { "SIGSIGTERM", -EINVAL },
		{ "RTMIN+30", SIGRTMAX },   { "RTMAX-30", SIGRTMIN },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (signal_parse(c[i].in) != c[i].want)
			fail_msg("\"%s\": got %d, want %d", c[i].in, signal_parse(c[i].in), c[i].want);
}

/* the model: glibc's abbreviations, and every "N) SIGNAME" that bash's kill -l prints */
static void test_against_libc_and_kill(void **state)
{
	char buf[32], line[4096];
	FILE *f;
	int seen = 0;

	for (int s = 1; s < SIGRTMIN; s++) {
		const char *abbrev = sigabbrev_np(s);

		if (!abbrev)
			continue;
		assert_int_equal(signal_parse(abbrev), s);
		assert_int_equal(signal_format(s, buf, sizeof(buf)), 0);
		assert_int_equal(signal_parse(buf), s);
	}
	f = popen("bash -c 'kill -l'", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		for (char *p = line; (p = strchr(p, ')'));) {
			char *q = p, name[32];
			int n;

			while (q > line && isdigit((unsigned char)q[-1]))
				q--;
			n = atoi(q);
			assert_int_equal(sscanf(p + 1, " %31s", name), 1);
			p++;
			assert_int_equal(signal_parse(name), n);
			assert_int_equal(signal_parse(name + 3), n);
			assert_int_equal(signal_format(n, buf, sizeof(buf)), 0);
			assert_string_equal(buf, name);
			seen++;
		}
	assert_int_equal(pclose(f), 0);
	assert_int_equal(seen, 62);
}

/* random spellings of every signal: case, "SIG" or not, number, RTMIN+n or RTMAX-n */
static void test_random_roundtrip(void **state)
{
	srand(14);
	for (int i = 0; i < 20000; i++) {
		int s = 1 + rand() % (SIGRTMAX), form = rand() % 3;
		char buf[40], *p;

		if (s == 32 || s == 33)
			continue; /* glibc's own: no name */
		if (form == 0 && s >= SIGRTMIN)
			(void)snprintf(buf, sizeof(buf), "SIGRTMIN+%d", s - SIGRTMIN);
		else if (form == 1 && s >= SIGRTMIN)
			(void)snprintf(buf, sizeof(buf), "SIGRTMAX-%d", SIGRTMAX - s);
		else if (form == 2)
			(void)snprintf(buf, sizeof(buf), "%d", s);
		else
			assert_int_equal(signal_format(s, buf, sizeof(buf)), 0);
		for (p = buf; *p; p++)
			if (rand() & 1)
				*p = (char)tolower((unsigned char)*p);
		p = rand() & 1 && strncasecmp(buf, "SIG", 3) == 0 ? buf + 3 : buf;
		if (signal_parse(p) != s)
			fail_msg("\"%s\": got %d, want %d", p, signal_parse(p), s);
	}
	assert_int_equal(signal_format(32, (char[16]){ 0 }, 16), -EINVAL);
	assert_int_equal(signal_format(SIGRTMIN + 3, (char[4]){ 0 }, 4), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_against_libc_and_kill),
		cmocka_unit_test(test_random_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
