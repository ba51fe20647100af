/*
 * capcheck: a static helper for the capability tests (tests/integration/oci/test_oci_caps.py)
 * that tries, from inside a container, to get back what the runtime took away. One line per
 * attempt: "<attempt> refused <errno name>" or "<attempt> ALLOWED". Exit 0 when every attempt
 * was refused, 1 otherwise.
 *
 *   capcheck regain CAPNUM   capset() every set to all ones, raise CAPNUM in ambient and
 *                            inheritable, setresuid(0) when not root, and use CAPNUM
 *                            (21 CAP_SYS_ADMIN: a tmpfs mount; 0 CAP_CHOWN: chown)
 *   capcheck ids             print "uid euid" (for a setuid-root copy under no_new_privs)
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int allowed;

static void report(const char *what, int r)
{
	if (r == 0) {
		printf("%s ALLOWED\n", what);
		allowed = 1;
	} else {
		printf("%s refused %s\n", what, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
	}
}

static int use_cap(int cap)
{
	if (cap == 21)
		return mount("none", "/mnt", "tmpfs", 0, NULL);
	if (cap == 0)
		return chown("/", 12345, 12345);
	errno = ENOTSUP;
	return -1;
}

int main(int argc, char **argv)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	int cap;

	if (argc >= 2 && strcmp(argv[1], "ids") == 0) {
		printf("%u %u\n", (unsigned)getuid(), (unsigned)geteuid());
		return 0;
	}
	if (argc < 3 || strcmp(argv[1], "regain") != 0) {
		fprintf(stderr, "usage: capcheck regain CAPNUM | ids\n");
		return 2;
	}
	cap = (int)strtol(argv[2], NULL, 10);
	if (cap < 0 || cap > 63)
		return 2;
	memset(d, 0xff, sizeof(d));
	report("capset-all", (int)syscall(SYS_capset, &h, d));
	if (syscall(SYS_capget, &h, d) == 0) {
		d[cap / 32].inheritable |= 1U << (cap % 32);
		report("capset-inheritable", (int)syscall(SYS_capset, &h, d));
	}
	report("ambient-raise", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0));
	if (getuid() != 0)
		report("setuid-0", setresuid(0, 0, 0));
	report("use-cap", use_cap(cap));
	return allowed;
}
