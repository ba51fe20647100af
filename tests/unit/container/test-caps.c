/*
 * Unit tests for src/container/caps.c: the five sets applied around a uid switch in a forked
 * child, read back from /proc/self/status. Needs root (skipped otherwise).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container/caps.h"
#include "container/process.h"

#define BIT(n) (1ULL << (n))

static uint64_t status_cap(const char *key)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	uint64_t v = ~0ULL;

	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':')
			(void)caps_parse_hex(line + strlen(key) + 1, &v);
	fclose(f);
	return v;
}

static void test_parse_hex_and_mask(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(caps_parse_hex("\t000001ffffffffff\n", &v), 0);
	assert_true(v == 0x1ffffffffffULL);
	assert_int_equal(caps_parse_hex("zz", &v), -EINVAL);
	assert_true(caps_kernel_last() >= 36 && caps_kernel_last() < 64);
	assert_true(caps_kernel_mask() == (1ULL << (caps_kernel_last() + 1)) - 1);
}

/* In a child: apply p with the uid switch, then compare every set; exit code = mismatches. */
static int child_check(const struct oci_process *p, uint64_t keep, const uint64_t want[5])
{
	static const char *const keys[5] = { "CapBnd", "CapEff", "CapInh", "CapPrm", "CapAmb" };
	struct hull_err err = { 0 };
	int bad = 0;

	if (process_set_user_keep(p, keep, &err) < 0) {
		fprintf(stderr, "# %s\n", err.msg);
		return 100;
	}
	for (int i = 0; i < 5; i++) {
		uint64_t got = status_cap(keys[i]);

		if (got != want[i]) {
			fprintf(stderr, "# %s: got %llx want %llx\n", keys[i],
				(unsigned long long)got, (unsigned long long)want[i]);
			bad++;
		}
	}
	return bad;
}

static void run_case(const struct oci_process *p, uint64_t keep, const uint64_t want[5])
{
	pid_t pid;
	int st = 0;

	if (geteuid() != 0) {
		skip();
		return;
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_check(p, keep, want));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(st, 0);
}

static void test_non_root_sets(void **state)
{
	struct oci_process p = { .uid = 1000, .gid = 1000, .has_caps = true };
	uint64_t kill = BIT(5), chown = BIT(0), raw = BIT(13);

	(void)state;
	p.caps[OCI_CAP_BOUNDING] = kill | chown | raw;
	p.caps[OCI_CAP_EFFECTIVE] = p.caps[OCI_CAP_PERMITTED] = kill | raw;
	p.caps[OCI_CAP_INHERITABLE] = kill;
	p.caps[OCI_CAP_AMBIENT] = kill | raw; /* raw is not inheritable: skipped */
	run_case(&p, 0,
		 (const uint64_t[5]){ kill | chown | raw, kill | raw, kill, kill | raw, kill });
}

static void test_keep_for_seccomp(void **state)
{
	struct oci_process p = { .uid = 1000, .gid = 1000, .has_caps = true };
	uint64_t kill = BIT(5), admin = BIT(21);

	(void)state;
	/* CAP_SYS_ADMIN kept in every set though bounding drops it (it was raised in
	 * inheritable first, and ambient needs it there). */
	p.caps[OCI_CAP_BOUNDING] = kill;
	run_case(&p, admin,
		 (const uint64_t[5]){ kill, admin, admin, admin, admin });
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_hex_and_mask),
		cmocka_unit_test(test_non_root_sets),
		cmocka_unit_test(test_keep_for_seccomp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
