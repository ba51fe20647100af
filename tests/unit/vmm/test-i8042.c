/* The i8042 controller and keyboard, driven through its ports as Linux's drivers would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/dev/i8042.h"

static void wr(struct i8042 *k, unsigned port, uint8_t v)
{
	i8042_io(k, port, &v, 1, true);
}

static uint8_t rd(struct i8042 *k, unsigned port)
{
	uint8_t v = 0x5a;

	i8042_io(k, port, &v, 1, false);
	return v;
}

/* Controller command with a reply, polled as i8042_command() does. */
static uint8_t ctl(struct i8042 *k, uint8_t cmd)
{
	wr(k, 4, cmd);
	assert_true(rd(k, 4) & 0x01); /* OBF */
	return rd(k, 0);
}

static void test_controller(void **state)
{
	struct i8042 k;

	i8042_init(&k, NULL);
	assert_int_equal(rd(&k, 4) & 0x01, 0); /* nothing to flush */
	assert_int_equal(ctl(&k, 0xaa), 0x55);  /* self-test */
	assert_int_equal(ctl(&k, 0xab), 0x00);  /* keyboard interface test */
	assert_int_equal(ctl(&k, 0x20) & 0x40, 0x40); /* CTR: translation on */
	/* write CTR: interrupts off, then read it back */
	wr(&k, 4, 0x60);
	assert_true(rd(&k, 4) & 0x08); /* the next data byte is for the controller */
	wr(&k, 0, 0x74);
	assert_int_equal(ctl(&k, 0x20), 0x74);
	assert_int_equal(rd(&k, 4) & 0x01, 0);
	assert_false(k.reset);
	/* the reset line: command 0xfe, or bit 0 of the output port cleared */
	wr(&k, 4, 0xfe);
	assert_true(k.reset);
	k.reset = false;
	wr(&k, 4, 0xd1);
	wr(&k, 0, 0x03);
	assert_false(k.reset);
	wr(&k, 4, 0xd1);
	wr(&k, 0, 0x02);
	assert_true(k.reset);
	/* ports 0x61-0x63 belong to nobody here */
	assert_int_equal(rd(&k, 1), 0xff);
	pthread_mutex_destroy(&k.lock);
}

static void test_keyboard(void **state)
{
	struct i8042 k;
	unsigned irqs;

	i8042_init(&k, NULL);
	/* reset: ACK, BAT passed; each byte raises IRQ 1 in turn */
	irqs = k.irqs;
	wr(&k, 0, 0xff);
	assert_int_equal(k.irqs, irqs + 1);
	assert_int_equal(rd(&k, 0), 0xfa);
	assert_int_equal(k.irqs, irqs + 2);
	assert_int_equal(rd(&k, 0), 0xaa);
	assert_int_equal(k.irqs, irqs + 2);
	/* get ID, translated */
	wr(&k, 0, 0xf2);
	assert_int_equal(rd(&k, 0), 0xfa);
	assert_int_equal(rd(&k, 0), 0xab);
	assert_int_equal(rd(&k, 0), 0x41);
	/* set LEDs: command and parameter each acknowledged */
	wr(&k, 0, 0xed);
	assert_int_equal(rd(&k, 0), 0xfa);
	wr(&k, 0, 0x07);
	assert_int_equal(rd(&k, 0), 0xfa);
	assert_int_equal(rd(&k, 4) & 0x01, 0);
	/* the scan code set, untranslated */
	wr(&k, 4, 0x60);
	wr(&k, 0, 0x05); /* interrupts on, no translation */
	wr(&k, 0, 0xf0);
	wr(&k, 0, 0x00);
	assert_int_equal(rd(&k, 0), 0xfa);
	assert_int_equal(rd(&k, 0), 0xfa);
	assert_int_equal(rd(&k, 0), 0x02);
	pthread_mutex_destroy(&k.lock);
}

static void test_ctrl_alt_del(void **state)
{
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71,
					0xf0, 0x11, 0xf0, 0x14 };
	struct i8042 k;

	i8042_init(&k, NULL);
	i8042_ctrl_alt_del(&k);
	for (size_t i = 0; i < sizeof(set1); i++) {
		assert_true(rd(&k, 4) & 0x01);
		assert_int_equal(rd(&k, 0), set1[i]);
	}
	assert_int_equal(rd(&k, 4) & 0x01, 0);
	/* no translation: set 2 codes */
	wr(&k, 4, 0x60);
	wr(&k, 0, 0x01);
	i8042_ctrl_alt_del(&k);
	for (size_t i = 0; i < sizeof(set2); i++)
		assert_int_equal(rd(&k, 0), set2[i]);
	/* interrupts off: bytes still queue (polled), but no IRQ */
	wr(&k, 4, 0x60);
	wr(&k, 0, 0x40);
	k.irqs = 0;
	i8042_ctrl_alt_del(&k);
	assert_int_equal(k.irqs, 0);
	assert_int_equal(rd(&k, 0), 0x1d);
	pthread_mutex_destroy(&k.lock);
}

/* A hostile guest: every byte to every port, in any order, and a queue it never drains. */
static void test_garbage(void **state)
{
	struct i8042 k;

	i8042_init(&k, NULL);
	for (unsigned round = 0; round < 3; round++)
		for (unsigned v = 0; v < 256; v++)
			for (unsigned port = 0; port < 5; port++) {
				uint8_t b = (uint8_t)v;

				i8042_io(&k, port, &b, 1, (v + port + round) & 1);
				assert_true(k.st.q_len <= I8042_OUTQ);
			}
	for (int i = 0; i < 100; i++)
		wr(&k, 0, 0xf2); /* the keyboard talks, nobody reads: the queue stays bounded */
	assert_int_equal(k.st.q_len, I8042_OUTQ);
	pthread_mutex_destroy(&k.lock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_controller),
		cmocka_unit_test(test_keyboard),
		cmocka_unit_test(test_ctrl_alt_del),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
