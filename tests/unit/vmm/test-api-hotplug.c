/*
 * PUT /network-interfaces/ID's body (api-hotplug.c: api_net_put_parse): the known cases
 * (hull's "vhost" field among them: absent is auto, as --net's vhost=), then seeded random
 * bodies mutated from a valid one (fields dropped, retyped, renamed, values cut or garbled),
 * each either accepted with values that match what it says or refused with one message
 * naming the field; never a crash, never a half-filled config taken as valid.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/api-hotplug.h"
#include "vmm/vmm.h"

static json_t *body; /* the last parsed: c->tap points into it */

static int parse(const char *text, struct vm_net_config *c, struct hull_err *err)
{
	json_decref(body);
	body = json_loads(text, 0, NULL);
	assert_non_null(body);
	return api_net_put_parse(body, "n1", c, err);
}

static void test_vhost_field(void **state)
{
	struct vm_net_config c;
	struct hull_err err = { 0 };
	static const struct {
		const char *v;
		enum vm_net_vhost want;
	} ok[] = { { "on", VM_NET_VHOST_ON }, { "off", VM_NET_VHOST_OFF },
		   { "auto", VM_NET_VHOST_AUTO } };
	char text[200];

	(void)state;
	assert_int_equal(parse("{\"iface_id\":\"n1\",\"host_dev_name\":\"tap0\"}", &c, &err), 0);
	assert_int_equal(c.vhost, VM_NET_VHOST_AUTO); /* a --net NIC's default */
	assert_false(c.mac_set);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		(void)snprintf(text, sizeof(text), "{\"iface_id\":\"n1\",\"host_dev_name\":\"tap0\","
			       "\"vhost\":\"%s\"}", ok[i].v);
		assert_int_equal(parse(text, &c, &err), 0);
		assert_int_equal(c.vhost, ok[i].want);
		assert_string_equal(c.tap, "tap0");
	}
	assert_int_equal(parse("{\"iface_id\":\"n1\",\"host_dev_name\":\"tap0\",\"vhost\":\"yes\"}",
			       &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "vhost 'yes'"));
	assert_int_equal(parse("{\"iface_id\":\"n1\",\"host_dev_name\":\"tap0\",\"vhost\":1}", &c,
			       &err), -EINVAL);
	assert_non_null(strstr(err.msg, "vhost"));
	assert_int_equal(parse("{\"iface_id\":\"n1\",\"host_dev_name\":\"tap0\",\"vhostx\":\"on\"}",
			       &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "unknown field 'vhostx'"));
	assert_int_equal(parse("{\"iface_id\":\"n2\",\"host_dev_name\":\"tap0\"}", &c, &err),
			 -EINVAL);
	assert_int_equal(parse("{\"iface_id\":\"n1\",\"host_dev_name\":\"a/b\"}", &c, &err),
			 -EINVAL);
	assert_int_equal(parse("{\"iface_id\":\"n1\",\"host_dev_name\":\"t\","
			       "\"guest_mac\":\"03:00:00:00:00:01\"}", &c, &err), -EINVAL);
	assert_int_equal(parse("{\"iface_id\":\"n1\",\"host_dev_name\":\"t\","
			       "\"guest_mac\":\"02:00:00:00:00:01\"}", &c, &err), 0);
	assert_true(c.mac_set);
	assert_int_equal(c.mac[0], 2);
	assert_int_equal(c.mac[5], 1);
	assert_int_equal(api_net_put_parse(NULL, "n1", &c, &err), -EINVAL);
	json_decref(body);
	body = NULL;
}

static const char *const keys[] = { "iface_id", "host_dev_name", "guest_mac", "vhost" };
static const char *const good[] = { "n1", "tap0", "02:00:00:00:00:01", "on" };

/* One field's value: the good one, cut, garbled, of another type, or another field's. */
static json_t *mutate(unsigned k)
{
	char buf[32];
	size_t len;

	switch (rand() % 8) {
	case 0: return json_integer(rand());
	case 1: return json_null();
	case 2: return json_true();
	case 3: return json_string(good[rand() % 4]);
	case 4:
		len = strlen(good[k]);
		return json_stringn(good[k], (size_t)rand() % (len + 1));
	case 5:
		(void)snprintf(buf, sizeof(buf), "%s", good[k]);
		buf[(size_t)rand() % strlen(buf)] = (char)(1 + rand() % 255);
		return json_string(buf);
	case 6: return json_string(good[k]);
	default: return json_pack("[s]", good[k]);
	}
}

/* What the parse must have found in an accepted body. */
static void check_accepted(json_t *b, const struct vm_net_config *c)
{
	const char *v = json_string_value(json_object_get(b, "vhost"));

	assert_string_equal(json_string_value(json_object_get(b, "iface_id")), "n1");
	assert_string_equal(c->tap, json_string_value(json_object_get(b, "host_dev_name")));
	assert_true(*c->tap && strlen(c->tap) < 16 && !strchr(c->tap, '/'));
	assert_int_equal(c->mac_set, json_is_string(json_object_get(b, "guest_mac")));
	if (c->mac_set)
		assert_int_equal(c->mac[0] & 1, 0);
	if (!v)
		assert_int_equal(c->vhost, VM_NET_VHOST_AUTO);
	else
		assert_int_equal(c->vhost, strcmp(v, "on") == 0	   ? VM_NET_VHOST_ON
					   : strcmp(v, "off") == 0 ? VM_NET_VHOST_OFF
								   : VM_NET_VHOST_AUTO);
	if (v)
		assert_true(strcmp(v, "on") == 0 || strcmp(v, "off") == 0 ||
			    strcmp(v, "auto") == 0);
}

static void test_mutated_bodies(void **state)
{
	unsigned seed = (unsigned)strtoul(getenv("HULL_TEST_SEED") ? getenv("HULL_TEST_SEED")
								   : "16", NULL, 10);
	unsigned accepted = 0, refused = 0;

	(void)state;
	srand(seed);
	for (unsigned it = 0; it < 20000; it++) {
		json_t *b = json_object();
		struct vm_net_config c;
		struct hull_err err = { 0 };
		int r;

		for (unsigned k = 0; k < 4; k++) {
			int what = rand() % 6;

			if (what == 0 && k >= 2)
				continue; /* an optional field left out */
			if (what == 1)
				continue; /* a field dropped, required or not */
			json_object_set_new(b, what == 2 ? "vhost " : keys[k],
					    what == 3 ? mutate(k) : json_string(good[k]));
		}
		if (rand() % 4 == 0)
			json_object_set_new(b, "vhost", json_string((const char *[]){
				"on", "off", "auto", "On", "", "auto\n" }[rand() % 6]));
		r = api_net_put_parse(b, "n1", &c, &err);
		if (r == 0) {
			check_accepted(b, &c);
			accepted++;
		} else {
			assert_int_equal(r, -EINVAL);
			assert_memory_equal(err.msg, "body", 4); /* names the body's field */
			refused++;
		}
		json_decref(b);
	}
	print_message("seed %u: %u accepted, %u refused\n", seed, accepted, refused);
	assert_true(accepted > 100 && refused > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vhost_field),
		cmocka_unit_test(test_mutated_bodies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
