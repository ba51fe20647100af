/*
 * The PCI hot-plug controller (hotplug.c) and hot-plug slots on the bus (pci.c): seeded
 * random sequences of plug, unplug, guest reads and ejects (hostile ones included: bits of
 * slots that are not hot-plug slots or hold nothing, odd widths and offsets, writes to the
 * read-only registers) checked against a model after every step; save/load; a device added
 * to a hot-plug slot and removed again.
 */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/hotplug.h"
#include "vmm/pci.h"
#include "vmm/state.h"

static uint32_t rd(struct pcihp *h, uint64_t off)
{
	uint32_t v = 0;

	pcihp_io(h, off, (uint8_t *)&v, 4, false);
	return le32toh(v);
}

static void wr(struct pcihp *h, uint64_t off, uint32_t v)
{
	v = htole32(v);
	pcihp_io(h, off, (uint8_t *)&v, 4, true);
}

struct model {
	uint32_t reserved, present, up, down, ejected;
};

static void check(struct pcihp *h, const struct model *m)
{
	assert_int_equal(pcihp_present(h), m->present | m->reserved | m->ejected);
	assert_int_equal(pcihp_removing(h), m->down);
	assert_int_equal(rd(h, PCIHP_REG_PRESENT), m->present);
	assert_int_equal(rd(h, PCIHP_REG_DOWN), m->down);
	assert_int_equal(m->up & ~m->present, 0);
	assert_int_equal(m->down & ~m->present, 0);
	assert_int_equal((m->present | m->reserved | m->ejected) & ~PCIHP_SLOT_MASK, 0);
}

static unsigned any_slot(void)
{
	return (unsigned)(rand() % 34); /* 0..33: cold slots and past the bus too */
}

static void hostile(struct pcihp *h)
{
	uint8_t buf[8];
	uint32_t len = (uint32_t)(1 + rand() % 8);
	uint64_t off = (uint64_t)(rand() % 24);

	if (len == 4 && (off & 3) == 0 && off < PCIHP_PORT_LEN)
		len = 2;
	memset(buf, rand() & 0xff, sizeof(buf));
	pcihp_io(h, off, buf, len, true);
	pcihp_io(h, off, buf, len, false);
	for (uint32_t i = 0; i < len; i++)
		assert_int_equal(buf[i], 0xff);
	/* writes to the read-only registers */
	wr(h, PCIHP_REG_UP, (uint32_t)rand());
	wr(h, PCIHP_REG_DOWN, (uint32_t)rand());
	wr(h, PCIHP_REG_PRESENT, (uint32_t)rand());
}

static void step(struct pcihp *h, struct model *m)
{
	unsigned s = any_slot();
	uint32_t bit = s < 32 ? (1U << s) & PCIHP_SLOT_MASK : 0, v;
	int r;

	switch (rand() % 8) {
	case 0:
		r = pcihp_slot_reserve(h);
		if (r < 0) {
			assert_int_equal(r, -ENOSPC);
			assert_int_equal(m->reserved | m->present | m->ejected, PCIHP_SLOT_MASK);
		} else {
			assert_true(r >= PCIHP_FIRST_SLOT && r < PCIHP_FIRST_SLOT + PCIHP_NUM_SLOTS);
			assert_false((m->reserved | m->present | m->ejected) & (1U << r));
			m->reserved |= 1U << r;
		}
		break;
	case 1:
		r = pcihp_plug(h, s);
		assert_int_equal(r, (m->reserved & bit) ? 0 : -EINVAL);
		if (r == 0) {
			m->reserved &= ~bit;
			m->present |= bit;
			m->up |= bit;
		}
		break;
	case 2:
		if (m->reserved & bit) {
			pcihp_slot_release(h, s);
			m->reserved &= ~bit;
		}
		break;
	case 3:
		r = pcihp_unplug(h, s);
		assert_int_equal(r, !(m->present & bit) ? -ENOENT : (m->down & bit) ? -EALREADY : 0);
		if (r == 0)
			m->down |= bit;
		break;
	case 4: /* the guest's PCNT: UP is read once */
		assert_int_equal(rd(h, PCIHP_REG_UP), m->up);
		m->up = 0;
		assert_int_equal(rd(h, PCIHP_REG_UP), 0);
		break;
	case 5: /* the guest ejects: any bits, most of them meaningless */
		v = (uint32_t)rand() ^ ((uint32_t)rand() << 16);
		if (rand() % 2)
			v = bit;
		wr(h, PCIHP_REG_EJECT, v);
		v &= m->present;
		m->present &= ~v;
		m->up &= ~v;
		m->down &= ~v;
		m->ejected |= v;
		break;
	case 6:
		assert_int_equal(pcihp_take_ejected(h), m->ejected);
		m->ejected = 0;
		break;
	default:
		hostile(h);
		break;
	}
	check(h, m);
}

static void test_random_sequences(void **state)
{
	(void)state;
	for (unsigned seed = 1; seed <= 200; seed++) {
		struct pcihp *h = pcihp_new_test();
		struct model m = { 0 };

		srand(seed);
		for (unsigned i = 0; i < 400; i++)
			step(h, &m);
		pcihp_free(h);
	}
}

static int load_from(struct pcihp *h, uint32_t present, uint32_t up, uint32_t down)
{
	struct state_writer w;
	struct state_reader r, sec;
	uint32_t id, idx;
	int ret;

	state_writer_init(&w);
	state_begin(&w, 0x19, 0);
	state_put_u32(&w, present);
	state_put_u32(&w, up);
	state_put_u32(&w, down);
	state_end(&w);
	assert_int_equal(state_writer_finish(&w), 0);
	assert_int_equal(state_reader_init(&r, w.buf, w.len), 0);
	assert_int_equal(state_next_section(&r, &id, &idx, &sec), 1);
	ret = pcihp_load(h, &sec);
	state_writer_release(&w);
	return ret;
}

static void test_save_load(void **state)
{
	struct pcihp *h = pcihp_new_test(), *g = pcihp_new_test();
	const uint32_t s16 = 1U << 16, s17 = 1U << 17;

	(void)state;
	assert_int_equal(pcihp_slot_reserve(h), 16);
	assert_int_equal(pcihp_slot_reserve(h), 17);
	assert_int_equal(pcihp_plug(h, 16), 0);
	assert_int_equal(pcihp_plug(h, 17), 0);
	assert_int_equal(rd(h, PCIHP_REG_UP), s16 | s17);
	assert_int_equal(pcihp_unplug(h, 17), 0);
	/* g has none of these devices: its PRESENT must match */
	assert_int_equal(load_from(g, s16 | s17, 0, s17), -EBADMSG);
	assert_int_equal(load_from(h, s16 | s17, 0, s17), 0);
	assert_int_equal(rd(h, PCIHP_REG_DOWN), s17);
	/* values the guest could not have made */
	assert_int_equal(load_from(h, s16 | s17 | 1, 0, 0), -EBADMSG);
	assert_int_equal(load_from(h, s16 | s17, 1U << 20, 0), -EBADMSG);
	assert_int_equal(load_from(h, s16 | s17, 0, 1U << 23), -EBADMSG);
	assert_int_equal(rd(h, PCIHP_REG_DOWN), s17); /* unchanged */
	assert_int_equal(load_from(g, 0, 0, 0), 0);
	/* a reboot forgets pending events, not devices */
	pcihp_reset(h);
	assert_int_equal(rd(h, PCIHP_REG_DOWN), 0);
	assert_int_equal(rd(h, PCIHP_REG_PRESENT), s16 | s17);
	pcihp_free(h);
	pcihp_free(g);
}

static uint32_t conf_read(struct pci_bus *b, unsigned slot, unsigned reg)
{
	uint32_t addr = htole32(0x80000000U | (slot << 11) | reg), v = 0;

	pci_conf_io(b, 0, (uint8_t *)&addr, 4, true);
	pci_conf_io(b, 4, (uint8_t *)&v, 4, false);
	return le32toh(v);
}

static void test_bus_slots(void **state)
{
	struct pci_bus *b = NULL;
	struct hull_err err = { 0 };
	struct pci_dev d = { 0 }, e = { 0 };
	uint32_t id = htole32(0x10411af4U);

	(void)state;
	assert_int_equal(pci_bus_create(NULL, &b, &err), 0);
	memcpy(d.cfg, &id, 4);
	memcpy(e.cfg, &id, 4);
	assert_int_equal(conf_read(b, 16, 0), 0xffffffffU);
	/* a cold slot cannot be named, nor one past the bus */
	pci_bus_set_next_slot(b, 3);
	assert_int_equal(pci_bus_add(b, &d), -EBUSY);
	pci_bus_set_next_slot(b, 32);
	assert_int_equal(pci_bus_add(b, &d), -EBUSY);
	pci_bus_set_next_slot(b, 16);
	assert_int_equal(pci_bus_add(b, &d), 16);
	pci_bus_set_next_slot(b, 16);
	assert_int_equal(pci_bus_add(b, &e), -EBUSY);
	assert_int_equal(conf_read(b, 16, 0), 0x10411af4U);
	assert_int_equal(pci_bus_add(b, &e), 1); /* no slot named: the next cold one */
	assert_int_equal(pci_bus_remove(b, 1), -EINVAL);
	assert_int_equal(pci_bus_remove(b, 17), -ENOENT);
	assert_int_equal(pci_bus_remove(b, 16), 0);
	assert_int_equal(pci_bus_remove(b, 16), -ENOENT);
	assert_int_equal(conf_read(b, 16, 0), 0xffffffffU);
	assert_int_equal(conf_read(b, 1, 0), 0x10411af4U);
	pci_bus_free(b);
}

static int bus_load(struct pci_bus *b, const struct state_writer *w)
{
	struct state_reader r, sec;
	uint32_t id, idx;

	assert_int_equal(state_reader_init(&r, w->buf, w->len), 0);
	assert_int_equal(state_next_section(&r, &id, &idx, &sec), 1);
	return pci_bus_load(b, &sec);
}

static void bus_save(struct pci_bus *b, struct state_writer *w)
{
	state_writer_init(w);
	state_begin(w, 4, 0);
	pci_bus_save(b, w);
	state_end(w);
	assert_int_equal(state_writer_finish(w), 0);
}

/* A hot-plugged function's header is in the bus's section, and only loads where one is. */
static void test_bus_state_with_a_hot_slot(void **state)
{
	struct pci_bus *b = NULL, *c = NULL, *e = NULL;
	struct hull_err err = { 0 };
	struct pci_dev d = { .bar_size = 0x4000 }, d2 = { .bar_size = 0x4000 };
	struct state_writer w, cold;
	uint32_t bar = htole32(0xc0f00004U), addr;

	(void)state;
	assert_int_equal(pci_bus_create(NULL, &b, &err), 0);
	assert_int_equal(pci_bus_create(NULL, &c, &err), 0);
	assert_int_equal(pci_bus_create(NULL, &e, &err), 0);
	bus_save(e, &cold); /* no hot slot: the format of before */
	pci_bus_set_next_slot(b, 17);
	assert_int_equal(pci_bus_add(b, &d), 17);
	/* the guest moves the BAR */
	addr = htole32(0x80000000U | (17 << 11) | 0x10);
	pci_conf_io(b, 0, (uint8_t *)&addr, 4, true);
	pci_conf_io(b, 4, (uint8_t *)&bar, 4, true);
	assert_int_equal(d.bar_addr, 0xc0f00000U);
	bus_save(b, &w);
	assert_true(w.len > cold.len);
	/* a bus without that slot's device refuses it; one with it takes the BAR back */
	assert_int_equal(bus_load(c, &w), -EBADMSG);
	pci_bus_set_next_slot(c, 17);
	assert_int_equal(pci_bus_add(c, &d2), 17);
	assert_int_equal(bus_load(c, &cold), -EBADMSG); /* its hot slot not in the stream */
	assert_int_equal(bus_load(c, &w), 0);
	assert_int_equal(d2.bar_addr, 0xc0f00000U);
	assert_int_equal(bus_load(e, &cold), 0);
	state_writer_release(&w);
	state_writer_release(&cold);
	pci_bus_free(b);
	pci_bus_free(c);
	pci_bus_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_sequences),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_bus_slots),
		cmocka_unit_test(test_bus_state_with_a_hot_slot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
