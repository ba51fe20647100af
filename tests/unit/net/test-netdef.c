/* Network definitions and the address allocator on a temporary store directory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/strv.h"
#include "net/ipam.h"
#include "net/net.h"
#include "net/netdef.h"

static char root[64];

static int setup(void **state)
{
	(void)state;
	strcpy(root, "/tmp/hull-netdef-XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd);
}

static void test_create_overlap_names(void **state)
{
	struct hull_err err = { 0 };
	struct net_def_opts o = { 0 };
	json_t *d = NULL;
	char **names;
	int lock = net_lock(root, &err);

	(void)state;
	assert_true(lock >= 0);
	assert_int_equal(net_def_create(root, "a", &o, &d, &err), 0);
	/* the first free /16 after bridge's 172.17 */
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(d, "subnets"), 0), "subnet")),
			    "172.18.0.0/16");
	assert_string_equal(json_string_value(json_object_get(d, "network_interface")), "hull1");
	json_decref(d);
	o.subnet = "172.18.4.0/24";
	assert_int_equal(net_def_create(root, "b", &o, NULL, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "--subnet 172.18.4.0/24: overlaps the subnet of network a"));
	o.subnet = "172.16.0.0/12";
	assert_int_equal(net_def_create(root, "b", &o, NULL, &err), -EEXIST);
	o.subnet = "10.1.0.0/24";
	o.gateway = "10.1.1.1";
	assert_int_equal(net_def_create(root, "b", &o, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "--gateway"));
	o.gateway = "10.1.0.254";
	assert_int_equal(net_def_create(root, "b", &o, NULL, &err), 0);
	assert_int_equal(net_def_create(root, "b", &o, NULL, &err), -EEXIST);
	names = net_def_names(root);
	assert_int_equal(strv_length(names), 3);
	assert_string_equal(names[0], "a");
	assert_string_equal(names[1], "b");
	assert_string_equal(names[2], "bridge");
	strv_free(names);
	assert_int_equal(net_def_remove(root, "b", &err), 0);
	assert_int_equal(net_def_remove(root, "b", &err), -ENOENT);
	(void)close(lock);
}

static void test_ipam(void **state)
{
	struct hull_err err = { 0 };
	struct net_def_opts o = { .subnet = "10.2.0.0/29" };
	char ctrs[96], d1[128];
	json_t *d = NULL;
	uint32_t a, b, c;

	(void)state;
	(void)snprintf(ctrs, sizeof(ctrs), "%s/containers", root);
	(void)mkdir(ctrs, 0700);
	(void)snprintf(d1, sizeof(d1), "%s/one", ctrs);
	(void)mkdir(d1, 0700);
	(void)snprintf(d1, sizeof(d1), "%s/two", ctrs);
	(void)mkdir(d1, 0700);
	assert_int_equal(net_def_create(root, "small", &o, &d, &err), 0);
	assert_int_equal(ipam_alloc(root, d, ctrs, "one", 0, &a, &err), 0);
	assert_int_equal(a, 0x0a020002); /* .1 is the gateway */
	/* a container allocating again gets one address, not two */
	assert_int_equal(ipam_alloc(root, d, ctrs, "one", 0, &a, &err), 0);
	assert_int_equal(ipam_count(root, "small", ctrs), 1);
	/* "gone" has no directory: its address is reclaimed at the next allocation */
	assert_int_equal(ipam_alloc(root, d, NULL, "gone", 0x0a020005, &b, &err), 0);
	assert_int_equal(ipam_alloc(root, d, ctrs, "two", 0x0a020005, &c, &err), 0);
	assert_int_equal(ipam_alloc(root, d, ctrs, "three", 0x0a020005, &c, &err), -EADDRINUSE);
	assert_non_null(strstr(err.msg, "--ip 10.2.0.5"));
	assert_int_equal(ipam_alloc(root, d, ctrs, "three", 0x0a020001, &c, &err), -EINVAL);
	assert_int_equal(ipam_alloc(root, d, ctrs, "three", 0x0a020007, &c, &err), -EINVAL);
	/* .2 one, .5 two; .3 .4 .6 remain (no reclaiming from here: ctr_dir NULL) */
	assert_int_equal(ipam_alloc(root, d, NULL, "x", 0, &c, &err), 0);
	assert_int_equal(ipam_alloc(root, d, NULL, "y", 0, &c, &err), 0);
	assert_int_equal(ipam_alloc(root, d, NULL, "z", 0, &c, &err), 0);
	assert_int_equal(c, 0x0a020006);
	assert_int_equal(ipam_alloc(root, d, NULL, "w", 0, &c, &err), -ENOSPC);
	assert_int_equal(ipam_release(root, "small", "x", &err), 0);
	assert_int_equal(ipam_alloc(root, d, NULL, "w", 0, &c, &err), 0);
	assert_int_equal(c, 0x0a020003);
	json_decref(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_overlap_names),
		cmocka_unit_test(test_ipam),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
