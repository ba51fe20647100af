/*
 * vmm_run checks every value of struct vm_config, once, before it opens /dev/kvm: the CLI
 * (src/cli/vm-opts.c) only parses the flags' syntax. Each case is a valid configuration with
 * one value made bad; the error names the flag. The kernel is this test's own ELF binary
 * (arch_kernel_check looks at the header only), so no /dev/kvm is needed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/vmm.h"

static int run(const struct vm_config *cfg, struct hull_err *err)
{
	enum vm_stop stop = VM_STOP_NONE;

	memset(err, 0, sizeof(*err));
	return vmm_run(cfg, &stop, err);
}

static void base(struct vm_config *cfg)
{
	vm_config_init(cfg);
	cfg->kernel = "/proc/self/exe";
	cfg->mem_size = 64ULL << 20;
}

static void expect(const struct vm_config *cfg, const char *a, const char *b)
{
	struct hull_err err;

	assert_true(run(cfg, &err) < 0);
	if (!strstr(err.msg, a) || (b && !strstr(err.msg, b)))
		fail_msg("error '%s' lacks '%s' / '%s'", err.msg, a, b ? b : "");
}

static void test_defaults(void **state)
{
	struct vm_config cfg;

	vm_config_init(&cfg);
	assert_int_equal(cfg.cpus, 1);
	assert_int_equal(cfg.mem_size, 512ULL << 20);
	assert_int_equal(cfg.shutdown_timeout_s, VM_SHUTDOWN_TIMEOUT_S);
	assert_int_equal(cfg.console, VM_CONSOLE_SERIAL);
	expect(&cfg, "--kernel is required", NULL);
}

static void test_counts(void **state)
{
	struct vm_config cfg;

	base(&cfg);
	cfg.cpus = 0;
	expect(&cfg, "--cpus 0", "1 to 32");
	cfg.cpus = VM_MAX_CPUS + 1;
	expect(&cfg, "--cpus 33", "1 to 32");
	base(&cfg);
	cfg.shutdown_timeout_s = 0;
	expect(&cfg, "--shutdown-timeout 0", "1 to 3600");
	cfg.shutdown_timeout_s = VM_SHUTDOWN_TIMEOUT_MAX_S + 1;
	expect(&cfg, "--shutdown-timeout 3601", NULL);
	base(&cfg);
	cfg.mem_size = 1ULL << 20;
	expect(&cfg, "--memory", "at least");
	cfg.mem_size = (64ULL << 20) + 1;
	expect(&cfg, "--memory", "4 KiB");
}

static void test_disks(void **state)
{
	struct vm_disk_config d[VM_MAX_DISKS + 1];
	struct vm_config cfg;

	memset(d, 0, sizeof(d));
	for (unsigned i = 0; i <= VM_MAX_DISKS; i++) {
		d[i].path = "/nonexistent/hull-test-disk";
		d[i].format = DISK_FORMAT_RAW;
	}
	base(&cfg);
	cfg.disks = d;
	cfg.n_disks = VM_MAX_DISKS + 1;
	expect(&cfg, "at most 8 --disk", NULL);
	cfg.n_disks = 1;
	d[0].serial = "012345678901234567890"; /* 21 bytes */
	expect(&cfg, "serial=012345678901234567890", "at most 20 bytes");
	d[0].serial = "01234567890123456789";  /* 20: fine, then the missing file */
	expect(&cfg, "--disk /nonexistent/hull-test-disk", "No such file");
	d[0].format = DISK_FORMAT_AUTO; /* a probed raw disk could be made a QCOW2 by its guest */
	expect(&cfg, "/nonexistent/hull-test-disk", "raw or qcow2");
	d[0].format = DISK_FORMAT_RAW;
	d[0].path = "";
	expect(&cfg, "--disk: empty path", NULL);
}

static void test_balloon(void **state)
{
	struct vm_config cfg;

	base(&cfg);
	cfg.balloon.enabled = true;
	cfg.balloon.amount_mib = 65;
	expect(&cfg, "--balloon amount_mib=65", "more than --memory (64 MiB)");
	cfg.balloon.amount_mib = 64;
	cfg.balloon.stats_s = VM_BALLOON_STATS_MAX_S + 1;
	expect(&cfg, "--balloon stats=3601", "at most 3600");
	cfg.balloon.stats_s = 1;
	cfg.kernel_kind = VM_KERNEL_RAW;
	expect(&cfg, "--balloon needs a Linux kernel", NULL);
}

static void test_nets(void **state)
{
	struct vm_net_config n[VM_MAX_NICS + 1];
	struct vm_config cfg;

	memset(n, 0, sizeof(n));
	for (unsigned i = 0; i <= VM_MAX_NICS; i++)
		n[i].tap = i % 2 ? "hullnotap16b" : "hullnotap16a";
	base(&cfg);
	cfg.nets = n;
	cfg.n_nets = VM_MAX_NICS + 1;
	expect(&cfg, "at most 4 --net", NULL);
	cfg.n_nets = 2;
	n[1].tap = "hullnotap16a";
	expect(&cfg, "--net tap=hullnotap16a: given twice", NULL);
	cfg.n_nets = 1;
	n[0].tap = NULL;
	expect(&cfg, "--net: tap=IFNAME is required", NULL);
	n[0].tap = "";
	expect(&cfg, "--net: tap=IFNAME is required", NULL);
	n[0].tap = "0123456789abcdef"; /* 16 bytes: IFNAMSIZ with its NUL is 16 */
	expect(&cfg, "--net tap=0123456789abcdef", "longer than 15 bytes");
	n[0].tap = "hullnotap16a";
	n[0].mac_set = true;
	memcpy(n[0].mac, (uint8_t[6]){ 0x33, 0x33, 0, 0, 0, 1 }, 6); /* multicast */
	expect(&cfg, "mac=33:33:00:00:00:01", "not a unicast address");
	memset(n[0].mac, 0, 6);
	expect(&cfg, "mac=00:00:00:00:00:00", "not a unicast address");
	n[0].mac[0] = 2;
	n[0].queues = VM_NET_MAX_QUEUE_PAIRS + 1;
	expect(&cfg, "--net tap=hullnotap16a: queues=9", "at most 8");
	n[0].queues = 0;
	cfg.kernel_kind = VM_KERNEL_RAW;
	expect(&cfg, "--net needs a Linux kernel", NULL);
	cfg.kernel_kind = VM_KERNEL_AUTO;
	expect(&cfg, "--net tap=hullnotap16a: no such interface", NULL); /* before KVM */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_disks),
		cmocka_unit_test(test_balloon),
		cmocka_unit_test(test_nets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
