/* The security flags' parsers (src/cli/create-security.c) and the seccomp profile resolver
 * (src/engine/seccomp-profile.c, seccomp-default.c): docker's forms, and seeded random
 * strings that are either accepted with a well-formed value or refused with one line naming
 * the flag. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/commands.h"
#include "cli/create-security.h"
#include "common/strv.h"
#include "engine/seccomp-profile.h"

/* cli_usage_error is hull.c's: here it keeps the last message */
static char last_msg[1024];

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	(void)cmd;
	va_start(ap, fmt);
	(void)vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
	va_end(ap);
	return EXIT_ENGINE;
}

static void test_device_forms(void **state)
{
	struct run_device d;

	(void)state;
	assert_int_equal(cli_device_parse("/dev/null", &d), 0);
	assert_string_equal(d.host, "/dev/null");
	assert_string_equal(d.path, "/dev/null");
	assert_string_equal(d.perms, "rwm");
	free(d.host), free(d.path);
	assert_int_equal(cli_device_parse("/dev/null:mr", &d), 0); /* HOST:PERMS */
	assert_string_equal(d.path, "/dev/null");
	assert_string_equal(d.perms, "rm");
	free(d.host), free(d.path);
	assert_int_equal(cli_device_parse("/dev/sda:/dev/xvdc:r", &d), 0);
	assert_string_equal(d.path, "/dev/xvdc");
	assert_string_equal(d.perms, "r");
	free(d.host), free(d.path);
	const char *bad[] = { "", "dev/null", "/", "/dev/null:", "/dev/null:x", "/a:/b:rr",
			      "/a:/b:", "/a:/b:r:", "/a::r", "/a:b", NULL };
	for (size_t i = 0; bad[i]; i++)
		assert_int_equal(cli_device_parse(bad[i], &d), -EINVAL);
}

static void test_ulimit_forms(void **state)
{
	struct oci_rlimit rl;

	(void)state;
	assert_int_equal(cli_ulimit_parse("nofile=1000:2000", &rl), 0);
	assert_int_equal(rl.resource, RLIMIT_NOFILE);
	assert_string_equal(rl.name, "RLIMIT_NOFILE");
	assert_true(rl.soft == 1000 && rl.hard == 2000);
	assert_int_equal(cli_ulimit_parse("memlock=-1", &rl), 0);
	assert_true(rl.soft == RLIM_INFINITY && rl.hard == RLIM_INFINITY);
	assert_int_equal(cli_ulimit_parse("core=0:unlimited", &rl), 0);
	assert_int_equal(cli_ulimit_parse("nofile=2:1", &rl), -ERANGE);
	assert_int_equal(cli_ulimit_parse("nofile=-1:5", &rl), -ERANGE);
	const char *bad[] = { "nofile", "nofile=", "=1", "files=1", "nofile=1:", "nofile=:1",
			      "nofile=1:2:3", "nofile=-2", "nofile=0x10", "nofile= 1",
			      "nofile=99999999999999999999", NULL };
	for (size_t i = 0; bad[i]; i++)
		assert_int_equal(cli_ulimit_parse(bad[i], &rl), -EINVAL);
}

static void test_sysctl_keys(void **state)
{
	bool net;

	(void)state;
	assert_true(cli_sysctl_key_ok("kernel.shmmax", &net) && !net);
	assert_true(cli_sysctl_key_ok("fs.mqueue.msg_max", &net) && !net);
	assert_true(cli_sysctl_key_ok("net.ipv4.ip_forward", &net) && net);
	const char *bad[] = { "kernel.hostname", "vm.swappiness", "net.", "net..a", "net.a.",
			      ".net.a", "net.a/b", "net.a/../../b", "fs.mqueue.", "kernel.shm",
			      "", NULL };
	for (size_t i = 0; bad[i]; i++)
		assert_false(cli_sysctl_key_ok(bad[i], &net));
}

static void test_security_opt_forms(void **state)
{
	struct run_opts o;

	(void)state;
	memset(&o, 0, sizeof(o));
	assert_int_equal(cli_security_opt("run", CLI_SEC_SECURITY_OPT, "no-new-privileges", &o), 0);
	assert_true(o.no_new_privs);
	assert_int_equal(cli_security_opt("run", CLI_SEC_SECURITY_OPT, "no-new-privileges:false",
					  &o), 0);
	assert_false(o.no_new_privs);
	assert_int_equal(cli_security_opt("run", CLI_SEC_SECURITY_OPT, "seccomp=/p.json", &o), 0);
	assert_string_equal(o.seccomp, "/p.json");
	assert_int_equal(cli_security_opt("run", CLI_SEC_SECURITY_OPT, "seccomp:unconfined", &o),
			 0);
	assert_string_equal(o.seccomp, "unconfined");
	assert_int_equal(cli_security_opt("run", CLI_SEC_SECURITY_OPT, "label=disable", &o), 0);
	assert_int_equal(cli_security_opt("run", CLI_SEC_SECURITY_OPT, "mask=/x", &o),
			 EXIT_ENGINE);
	assert_non_null(strstr(last_msg, "--security-opt mask=/x: unknown option"));
	cli_security_free(&o);
}

/* Random strings from an alphabet that makes the separators likely. */
static void random_string(unsigned *seed, char *buf, size_t max)
{
	static const char alpha[] = "/:=.,-_rwmabnofile0123456789\n\t x";
	size_t n = (size_t)rand_r(seed) % max;

	for (size_t i = 0; i < n; i++)
		buf[i] = alpha[(size_t)rand_r(seed) % (sizeof(alpha) - 1)];
	buf[n] = '\0';
}

static void test_random_strings(void **state)
{
	static const char *const flags[] = { "--security-opt", "--device", "--group-add",
					     "--sysctl", "--ulimit" };
	unsigned seed = 1515;
	char buf[40];

	(void)state;
	for (int i = 0; i < 20000; i++) {
		int k = rand_r(&seed) % 5;
		struct run_opts o;
		int r;

		memset(&o, 0, sizeof(o));
		random_string(&seed, buf, sizeof(buf));
		last_msg[0] = '\0';
		r = cli_security_opt("run", CLI_SEC_SECURITY_OPT + k, buf, &o);
		if (r != 0) {
			assert_int_equal(r, EXIT_ENGINE);
			/* one line, naming the flag */
			assert_null(strchr(last_msg, '\n'));
			assert_ptr_equal(strstr(last_msg, flags[k]), last_msg);
		} else if (k == 1) {
			assert_int_equal(o.n_devices, 1);
			assert_true(o.devices[0].host[0] == '/' && o.devices[0].path[0] == '/');
			assert_true(strchr("rwm", o.devices[0].perms[0]) != NULL);
		} else if (k == 4) {
			assert_int_equal(o.n_rlimits, 1);
			assert_true(o.rlimits[0].soft <= o.rlimits[0].hard);
		} else if (k == 3) {
			assert_null(strstr(o.sysctls[0], ".."));
			assert_null(strchr(o.sysctls[0], '\n'));
		}
		cli_security_free(&o);
	}
}

static bool has_name(const struct oci_seccomp *s, const char *name, enum oci_seccomp_action a)
{
	for (size_t i = 0; i < s->n_syscalls; i++)
		for (size_t k = 0; s->syscalls[i].names[k]; k++)
			if (strcmp(s->syscalls[i].names[k], name) == 0 && s->syscalls[i].action == a)
				return true;
	return false;
}

static void test_default_profile(void **state)
{
	uint64_t def = spec_caps_from_names(spec_default_caps);
	uint64_t admin = def | (1ULL << spec_cap_from_name("CAP_SYS_ADMIN"));
	json_t *p = seccomp_profile_default_json();
	struct oci_seccomp *s = NULL;
	struct hull_err err = { 0 };

	(void)state;
	assert_int_equal(seccomp_profile_resolve(p, def, "default", &s, &err), 0);
	assert_int_equal(s->default_action, OCI_SCMP_ERRNO);
	assert_true(s->has_default_errno_ret && s->default_errno_ret == 1);
	assert_true(has_name(s, "read", OCI_SCMP_ALLOW));
	assert_true(has_name(s, "chroot", OCI_SCMP_ALLOW)); /* CAP_SYS_CHROOT is a default */
	assert_true(has_name(s, "clone3", OCI_SCMP_ERRNO));
	assert_false(has_name(s, "mount", OCI_SCMP_ALLOW));
	assert_false(has_name(s, "add_key", OCI_SCMP_ALLOW));
	spec_seccomp_free(s);
	assert_int_equal(seccomp_profile_resolve(p, admin, "default", &s, &err), 0);
	assert_true(has_name(s, "mount", OCI_SCMP_ALLOW));
	assert_true(has_name(s, "clone3", OCI_SCMP_ALLOW));
	assert_false(has_name(s, "clone3", OCI_SCMP_ERRNO));
	assert_false(has_name(s, "add_key", OCI_SCMP_ALLOW));
	spec_seccomp_free(s);
	/* no capability at all: chroot goes too */
	assert_int_equal(seccomp_profile_resolve(p, 0, "default", &s, &err), 0);
	assert_false(has_name(s, "chroot", OCI_SCMP_ALLOW));
	spec_seccomp_free(s);
	json_decref(p);
}

/* Seeded mutations of the default profile's JSON text: resolved, or refused naming it. */
static void test_random_profiles(void **state)
{
	json_t *p = seccomp_profile_default_json();
	char *text = json_dumps(p, JSON_COMPACT);
	size_t len = strlen(text);
	unsigned seed = 4242;

	(void)state;
	for (int i = 0; i < 300; i++) {
		char *m = strdup(text);
		struct hull_err err = { 0 };
		struct oci_seccomp *s = NULL;
		json_t *j;

		for (int k = 0; k < 3; k++)
			m[(size_t)rand_r(&seed) % len] = "\"[]{}:,0a-"[rand_r(&seed) % 10];
		j = json_loads(m, 0, NULL);
		if (j) {
			int r = seccomp_profile_resolve(j, (uint64_t)rand_r(&seed), "x.json: profile",
							&s, &err);

			if (r < 0)
				assert_ptr_equal(strstr(err.msg, "x.json: profile"), err.msg);
			spec_seccomp_free(s);
			json_decref(j);
		}
		free(m);
	}
	free(text);
	json_decref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_forms),
		cmocka_unit_test(test_ulimit_forms),
		cmocka_unit_test(test_sysctl_keys),
		cmocka_unit_test(test_security_opt_forms),
		cmocka_unit_test(test_random_strings),
		cmocka_unit_test(test_default_profile),
		cmocka_unit_test(test_random_profiles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
