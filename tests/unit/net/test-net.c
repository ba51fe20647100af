/* -p values (net_port_parse), network names and IPv4 subnets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/net.h"

static void port_ok(const char *spec, const char *ip, unsigned hp, unsigned cp, unsigned n,
		    const char *proto)
{
	struct hull_err err = { 0 };
	struct net_port p;

	assert_int_equal(net_port_parse(spec, &p, &err), 0);
	assert_string_equal(p.host_ip, ip);
	assert_int_equal(p.host_port, hp);
	assert_int_equal(p.container_port, cp);
	assert_int_equal(p.range, n);
	assert_string_equal(p.proto, proto);
}

static void test_port_forms(void **state)
{
	(void)state;
	port_ok("80", "", 0, 80, 1, "tcp");
	port_ok("8080:80", "", 8080, 80, 1, "tcp");
	port_ok("127.0.0.1:8080:80", "127.0.0.1", 8080, 80, 1, "tcp");
	port_ok("127.0.0.1::80/udp", "127.0.0.1", 0, 80, 1, "udp");
	port_ok("0.0.0.0:1-3:11-13", "", 1, 11, 3, "tcp");
	port_ok("7000-7002", "", 0, 7000, 3, "tcp");
	port_ok("65535:65535/tcp", "", 65535, 65535, 1, "tcp");
}

static void test_port_refused(void **state)
{
	static const char *const bad[] = { "", "0", "65536", "x", "80x", "80/sctp", "80/",
					   "1.2.3:80:80", "127.0.0.1:80", "a:b:c:d", "9-8",
					   "1-3:1-2", "-1:80", "1:2:3:4", "300.0.0.1:1:1",
					   "65535-65536", "80-" };
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hull_err err = { 0 };
		struct net_port p;

		assert_int_equal(net_port_parse(bad[i], &p, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "-p "));
	}
}

/* Seeded random strings never crash the parser and an accepted one is in range. */
static void test_port_generated(void **state)
{
	static const char alphabet[] = "0123456789:.-/tcpudx";
	(void)state;
	srand(15);
	for (int i = 0; i < 20000; i++) {
		char s[24];
		size_t len = (size_t)(rand() % 22);
		struct hull_err err = { 0 };
		struct net_port p;

		for (size_t k = 0; k < len; k++)
			s[k] = alphabet[rand() % (int)(sizeof(alphabet) - 1)];
		s[len] = '\0';
		if (net_port_parse(s, &p, &err) == 0) {
			assert_true(p.container_port >= 1 && p.range >= 1);
			assert_true((unsigned)p.container_port + p.range - 1 <= 65535);
			assert_true(!p.host_port || (unsigned)p.host_port + p.range - 1 <= 65535);
		}
	}
}

/* An image's ExposedPorts key never carries a host address or port (seeded random keys). */
static void test_port_exposed(void **state)
{
	static const char alphabet[] = "0123456789:.-/tcpud";
	struct net_port p;

	(void)state;
	assert_int_equal(net_port_parse_exposed("53/udp", &p), 0);
	assert_int_equal(p.container_port, 53);
	assert_int_equal(net_port_parse_exposed("0.0.0.0:53:53/udp", &p), -EINVAL);
	assert_int_equal(net_port_parse_exposed("8080:80", &p), -EINVAL);
	assert_int_equal(net_port_parse_exposed("", &p), -EINVAL);
	srand(16);
	for (int i = 0; i < 20000; i++) {
		char s[24];
		size_t len = (size_t)(rand() % 22);

		for (size_t k = 0; k < len; k++)
			s[k] = alphabet[rand() % (int)(sizeof(alphabet) - 1)];
		s[len] = '\0';
		if (net_port_parse_exposed(s, &p) == 0) {
			assert_null(strchr(s, ':'));
			assert_int_equal(p.host_port, 0);
			assert_string_equal(p.host_ip, "");
		}
	}
}

/* Host names for /etc/hosts and resolv.conf: seeded random strings with newlines, spaces and
 * control characters are never accepted; accepted ones are RFC 1123. */
static void test_host_names(void **state)
{
	static const char alphabet[] = "ab9-. \n\t\r\x01#_:";
	char long_label[70];

	(void)state;
	assert_true(net_host_name_is_valid("web-1.example.com", 253));
	assert_true(net_host_name_is_valid("a", 63));
	assert_false(net_host_name_is_valid("", 253));
	assert_false(net_host_name_is_valid("-a", 253));
	assert_false(net_host_name_is_valid("a-", 253));
	assert_false(net_host_name_is_valid("a..b", 253));
	assert_false(net_host_name_is_valid("a.", 253));
	assert_false(net_host_name_is_valid("a\n1.2.3.4 evil", 253));
	memset(long_label, 'x', 64);
	long_label[64] = '\0';
	assert_false(net_host_name_is_valid(long_label, 253));
	long_label[63] = '\0';
	assert_true(net_host_name_is_valid(long_label, 253));
	assert_false(net_host_name_is_valid(long_label, 62));
	assert_true(net_ip_is_valid("10.0.0.1") && net_ip_is_valid("fe80::1"));
	assert_false(net_ip_is_valid("1.2.3.4\nx") || net_ip_is_valid(":") ||
		     net_ip_is_valid("a:b:c"));
	srand(17);
	for (int i = 0; i < 20000; i++) {
		char s[24];
		size_t len = (size_t)(rand() % 22);

		for (size_t k = 0; k < len; k++)
			s[k] = alphabet[rand() % (int)(sizeof(alphabet) - 1)];
		s[len] = '\0';
		if (net_host_name_is_valid(s, 253)) {
			assert_int_equal(strspn(s, "ab9-."), len);
			assert_true(s[0] != '-' && s[0] != '.' && s[len - 1] != '-' &&
				    s[len - 1] != '.' && !strstr(s, "..") && !strstr(s, ".-") &&
				    !strstr(s, "-."));
		}
	}
}

static void test_names_and_cidr(void **state)
{
	uint32_t a;
	int prefix;
	char buf[16];
	enum net_mode m;
	struct hull_err err = { 0 };

	(void)state;
	assert_true(net_name_is_valid("front-end_1.x"));
	assert_false(net_name_is_valid("-x"));
	assert_false(net_name_is_valid("a/b"));
	assert_false(net_name_is_valid(""));
	assert_int_equal(net_cidr4_parse("10.88.0.0/16", &a, &prefix), 0);
	assert_int_equal(prefix, 16);
	net_ip4_format(a, buf);
	assert_string_equal(buf, "10.88.0.0");
	assert_int_equal(net_cidr4_parse("10.88.0.0", &a, &prefix), -EINVAL);
	assert_int_equal(net_cidr4_parse("10.88.0.0/31", &a, &prefix), -EINVAL);
	assert_int_equal(net_cidr4_parse("10.88.0.0/1x", &a, &prefix), -EINVAL);
	assert_int_equal(net_prefix_mask(24), 0xffffff00u);
	assert_int_equal(net_mode_parse(NULL, &m, &err), 0);
	assert_int_equal(m, NET_MODE_BRIDGE);
	assert_int_equal(net_mode_parse("container:x", &m, &err), 0);
	assert_int_equal(m, NET_MODE_CONTAINER);
	assert_int_equal(net_mode_parse("container:", &m, &err), -EINVAL);
	assert_int_equal(net_mode_parse("a b", &m, &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_port_forms),
		cmocka_unit_test(test_port_refused),
		cmocka_unit_test(test_port_generated),
		cmocka_unit_test(test_port_exposed),
		cmocka_unit_test(test_host_names),
		cmocka_unit_test(test_names_and_cidr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
