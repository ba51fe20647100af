/*
 * `hull vm run` flag values to struct vm_config (src/cli/vm-opts.c): syntax only; the VMM
 * checks the values (tests/unit/vmm/test-config.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli/vm-opts.h"

static void test_size(void **state)
{
	uint64_t v = 0;

	assert_int_equal(vm_opt_size("512M", &v), 0);
	assert_int_equal(v, 512ULL << 20);
	assert_int_equal(vm_opt_size("2GiB", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(vm_opt_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(vm_opt_size("1.5g", &v), 0); /* common/size.c: docker's grammar */
	assert_int_equal(v, 3ULL << 29);
	assert_int_equal(vm_opt_size("-1G", &v), -EINVAL);
	assert_int_equal(vm_opt_size("12X", &v), -EINVAL);
	assert_int_equal(vm_opt_size("99999999999T", &v), -EINVAL);
	assert_int_equal(vm_opt_size("", &v), -EINVAL);
}

static void test_uint(void **state)
{
	unsigned v = 7;

	assert_int_equal(vm_opt_uint("8", &v), 0);
	assert_int_equal(v, 8);
	assert_int_equal(vm_opt_uint("0", &v), 0); /* a number; its range is the VMM's */
	assert_int_equal(v, 0);
	assert_int_equal(vm_opt_uint("4294967295", &v), 0);
	assert_int_equal(v, 4294967295U);
	assert_int_equal(vm_opt_uint("4294967296", &v), -EINVAL);
	assert_int_equal(vm_opt_uint("-1", &v), -EINVAL);
	assert_int_equal(vm_opt_uint(" 8", &v), -EINVAL);
	assert_int_equal(vm_opt_uint("8s", &v), -EINVAL);
	assert_int_equal(vm_opt_uint("two", &v), -EINVAL);
	assert_int_equal(vm_opt_uint("", &v), -EINVAL);
}

static void test_console(void **state)
{
	enum vm_console c = VM_CONSOLE_COUNT;

	assert_int_equal(vm_opt_console("none", &c), 0);
	assert_int_equal(c, VM_CONSOLE_NONE);
	assert_int_equal(vm_opt_console("virtio", &c), 0);
	assert_int_equal(c, VM_CONSOLE_VIRTIO);
	assert_int_equal(vm_opt_console("serial", &c), 0);
	assert_int_equal(c, VM_CONSOLE_SERIAL);
	assert_int_equal(vm_opt_console("Serial", &c), -EINVAL);
}

/* --vsock: auto or digits; the range (3 to 0xfffffffe) is the VMM's (vm_validate). */
static void test_vsock(void **state)
{
	static const char *const bad[] = { "", "-1", "+3", " 3", "3x", "0x10", "Auto",
					   "99999999999999999999" };
	struct vm_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(vm_opt_vsock("auto", &cfg), 0);
	assert_true(cfg.vsock && cfg.vsock_auto);
	assert_int_equal(vm_opt_vsock("3", &cfg), 0);
	assert_true(cfg.vsock && !cfg.vsock_auto);
	assert_int_equal(cfg.vsock_cid, 3);
	assert_int_equal(vm_opt_vsock("4294967295", &cfg), 0); /* parsed; refused by the VMM */
	assert_int_equal(cfg.vsock_cid, 4294967295ULL);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&cfg, 0, sizeof(cfg));
		assert_int_equal(vm_opt_vsock(bad[i], &cfg), -EINVAL);
		assert_false(cfg.vsock);
	}
}

static void test_disk(void **state)
{
	struct hull_err err = { 0 };
	struct vm_disk_config d;
	char s1[] = "/a.img,ro,serial=abc";
	char s2[] = "/a.img,bogus";
	char s3[] = "/b.qcow2,format=qcow2,ro";
	char s4[] = "/c.img,format=raw,ro,rw";
	char s5[] = "/d.img,format=auto";
	char s6[] = "/e.img,format=vmdk";
	char s7[] = ",ro";
	char s8[] = "/f.img,serial=0123456789012345678901"; /* too long: the VMM refuses it */

	assert_int_equal(vm_opt_disk(s1, &d, &err), 0);
	assert_string_equal(d.path, "/a.img");
	assert_true(d.readonly);
	assert_string_equal(d.serial, "abc");
	assert_int_equal(d.format, DISK_FORMAT_RAW); /* the default: never probed */
	assert_int_equal(vm_opt_disk(s2, &d, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "bogus"));
	assert_int_equal(vm_opt_disk(s3, &d, &err), 0);
	assert_int_equal(d.format, DISK_FORMAT_QCOW2);
	assert_true(d.readonly);
	assert_null(d.serial);
	assert_string_equal(d.path, "/b.qcow2");
	assert_int_equal(vm_opt_disk(s4, &d, &err), 0);
	assert_false(d.readonly);
	assert_int_equal(vm_opt_disk(s5, &d, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "format=auto"));
	assert_int_equal(vm_opt_disk(s6, &d, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "/e.img"));
	assert_non_null(strstr(err.msg, "raw or qcow2"));
	assert_int_equal(vm_opt_disk(s7, &d, &err), -EINVAL);
	assert_int_equal(vm_opt_disk(s8, &d, &err), 0);
	assert_int_equal(strlen(d.serial), 22);
}

static void test_balloon(void **state)
{
	struct vm_balloon_config b;
	struct hull_err err = { 0 };
	char all[] = "amount_mib=64,deflate_on_oom=on,stats=5,free_page_reporting=true";
	char on[] = "on";
	char *bad[] = { (char[]){ "bogus" }, (char[]){ "amount_mib=" }, (char[]){ "amount_mib=-1" },
			(char[]){ "stats=1s" }, (char[]){ "deflate_on_oom=yes" },
			(char[]){ "size=3" }, (char[]){ "amount_mib=99999999999" } };

	assert_int_equal(vm_opt_balloon(all, &b, &err), 0);
	assert_true(b.enabled && b.deflate_on_oom && b.free_page_reporting);
	assert_int_equal(b.amount_mib, 64);
	assert_int_equal(b.stats_s, 5);
	assert_int_equal(vm_opt_balloon(on, &b, &err), 0);
	assert_true(b.enabled && !b.deflate_on_oom && !b.free_page_reporting);
	assert_int_equal(b.amount_mib, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(vm_opt_balloon(bad[i], &b, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "--balloon"));
	}
}

/* --net's rate keys: rx_/tx_ then bps (a size), pps (a count) and their _burst */
static void test_net_rate(void **state)
{
	struct hull_err err = { 0 };
	struct vm_net_config n;
	char s1[] = "tap=t0,rx_bps=10M,rx_pps=1000,tx_bps=1M,tx_bps_burst=64K,tx_pps_burst=5";
	char s2[] = "tap=t0,rx_bps=fast";
	char s3[] = "tap=t0,rx_iops=1";
	char s4[] = "tap=t0,tx_pps=-1";
	char s5[] = "tap=t0";

	(void)state;
	assert_int_equal(vm_opt_net(s1, &n, &err), 0);
	assert_int_equal(n.rx_rate.bytes.size, 10 << 20);
	assert_int_equal(n.rx_rate.ops.size, 1000);
	assert_int_equal(n.tx_rate.bytes.size, 1 << 20);
	assert_int_equal(n.tx_rate.bytes.one_time_burst, 64 << 10);
	assert_int_equal(n.tx_rate.ops.one_time_burst, 5);
	assert_int_equal(n.tx_rate.ops.size, 0);
	assert_int_equal(n.rx_rate.bytes.refill_ms, 1000);
	assert_int_equal(vm_opt_net(s2, &n, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "rx_bps=fast"));
	assert_int_equal(vm_opt_net(s3, &n, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "unknown option 'rx_iops=1'"));
	assert_int_equal(vm_opt_net(s4, &n, &err), -EINVAL);
	assert_int_equal(vm_opt_net(s5, &n, &err), 0);
	assert_int_equal(n.rx_rate.bytes.size, 0);
	assert_int_equal(n.tx_rate.ops.size, 0);
	assert_int_equal(n.vhost, VM_NET_VHOST_AUTO);
}

static void test_net_vhost(void **state)
{
	static const struct {
		const char *s;
		int r;
		enum vm_net_vhost v;
	} cases[] = {
		{ "tap=t0,vhost=on", 0, VM_NET_VHOST_ON },
		{ "vhost=off,tap=t0", 0, VM_NET_VHOST_OFF },
		{ "tap=t0,vhost=auto,queues=2", 0, VM_NET_VHOST_AUTO },
		{ "tap=t0,vhost=", -EINVAL, 0 },
		{ "tap=t0,vhost=yes", -EINVAL, 0 },
		{ "tap=t0,vhost", -EINVAL, 0 },
	};
	struct hull_err err = { 0 };
	struct vm_net_config n;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char s[64];

		snprintf(s, sizeof(s), "%s", cases[i].s);
		assert_int_equal(vm_opt_net(s, &n, &err), cases[i].r);
		if (cases[i].r == 0)
			assert_int_equal(n.vhost, cases[i].v);
	}
	assert_non_null(strstr(err.msg, "unknown option 'vhost'"));
	char s[] = "tap=t0,vhost=yes";
	assert_int_equal(vm_opt_net(s, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "--net: vhost=yes: expected on, off or auto");
}

static void test_disk_rate(void **state)
{
	struct hull_err err = { 0 };
	struct vm_disk_config d;
	char s1[] = "a.img,bps=10M,iops=200,bps_burst=1M,iops_burst=5,ro";
	char s2[] = "a.img,bps=fast";
	char s3[] = "a.img,iops=-1";
	char s4[] = "a.img,iops=1.5";
	char s5[] = "a.img,bpsx=1";
	char s6[] = "a.img";
	int64_t id = 0;

	(void)state;
	assert_int_equal(vm_opt_disk(s1, &d, &err), 0);
	assert_int_equal(d.rate.bytes.size, 10 << 20);
	assert_int_equal(d.rate.bytes.one_time_burst, 1 << 20);
	assert_int_equal(d.rate.bytes.refill_ms, 1000);
	assert_int_equal(d.rate.ops.size, 200);
	assert_int_equal(d.rate.ops.one_time_burst, 5);
	assert_int_equal(d.rate.ops.refill_ms, 1000);
	assert_true(d.readonly);
	assert_int_equal(vm_opt_disk(s2, &d, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "bps=fast"));
	assert_int_equal(vm_opt_disk(s3, &d, &err), -EINVAL);
	assert_int_equal(vm_opt_disk(s4, &d, &err), -EINVAL);
	assert_int_equal(vm_opt_disk(s5, &d, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "unknown option 'bpsx=1'"));
	assert_int_equal(vm_opt_disk(s6, &d, &err), 0);
	assert_int_equal(d.rate.bytes.size, 0); /* no limit unless asked */
	assert_int_equal(d.rate.ops.size, 0);
	/* --uid, --gid: numbers below 2^32 - 1 ((uid_t)-1 means "unchanged" to setuid) */
	assert_int_equal(vm_opt_id("65534", &id), 0);
	assert_int_equal(id, 65534);
	assert_int_equal(vm_opt_id("4294967295", &id), -EINVAL);
	assert_int_equal(vm_opt_id("nobody", &id), -EINVAL);
	assert_int_equal(vm_opt_id("-1", &id), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_console),
		cmocka_unit_test(test_disk),
		cmocka_unit_test(test_vsock),
		cmocka_unit_test(test_balloon),
		cmocka_unit_test(test_disk_rate),
		cmocka_unit_test(test_net_rate),
		cmocka_unit_test(test_net_vhost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
