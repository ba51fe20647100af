/*
 * The PCI bus's guest state (pci.c): a guest that moved a BAR, turned decoding off, set bus
 * mastering and INTx disable and left the conf1 address register set gets all of it back in
 * a fresh bus (the snapshot's restore), with the devices told where their BARs are; seeded
 * hostile sections are refused with nothing changed, or load only values the guest could
 * have written.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/pci.h"
#include "vmm/state.h"

#define N_DEVS 3

struct fake {
	struct pci_dev d; /* first */
	uint64_t moved_to;
	bool moved_on;
	unsigned moves;
};

static void fake_moved(struct pci_dev *d, uint64_t addr, bool on)
{
	struct fake *f = (struct fake *)d;

	f->moved_to = addr;
	f->moved_on = on;
	f->moves++;
}

static void fake_io(struct pci_dev *d, uint64_t off, uint8_t *data, uint32_t len, bool w)
{
	(void)d, (void)off, (void)w;
	memset(data, 0, len);
}

static struct pci_bus *bus_new(struct fake f[N_DEVS])
{
	static const uint32_t sizes[N_DEVS] = { 0x1000, 0x4000, 0x10000 };
	struct hull_err err = { 0 };
	struct pci_bus *b = NULL;

	assert_int_equal(pci_bus_create(NULL, &b, &err), 0);
	for (unsigned i = 0; i < N_DEVS; i++) {
		memset(&f[i], 0, sizeof(f[i]));
		f[i].d.cfg[0] = 0xf4; /* vendor 0x1af4 */
		f[i].d.cfg[1] = 0x1a;
		f[i].d.bar_size = sizes[i];
		f[i].d.bar_io = fake_io;
		f[i].d.bar_moved = fake_moved;
		assert_int_equal(pci_bus_add(b, &f[i].d), (int)i + 1);
	}
	return b;
}

static void conf_w(struct pci_bus *b, unsigned slot, uint32_t reg, uint32_t v, uint32_t len)
{
	uint32_t a = 0x80000000U | (slot << 11) | (reg & 0xfc);
	uint8_t buf[4];

	memcpy(buf, &a, 4);
	pci_conf_io(b, 0, buf, 4, true);
	memcpy(buf, &v, 4);
	pci_conf_io(b, 4 + (reg & 3), buf, len, true);
}

static void saved(struct pci_bus *b, struct state_writer *w)
{
	state_writer_init(w);
	state_begin(w, 4, 0);
	pci_bus_save(b, w);
	state_end(w);
	assert_int_equal(state_writer_finish(w), 0);
}

static int load_payload(struct pci_bus *b, const uint8_t *p, size_t len)
{
	struct state_writer w;
	struct state_reader r, sec;
	uint32_t id, idx;
	int ret;

	state_writer_init(&w);
	state_begin(&w, 4, 0);
	state_put_bytes(&w, p, len);
	state_end(&w);
	assert_int_equal(state_writer_finish(&w), 0);
	assert_int_equal(state_reader_init(&r, w.buf, w.len), 0);
	assert_int_equal(state_next_section(&r, &id, &idx, &sec), 1);
	ret = pci_bus_load(b, &sec);
	state_writer_release(&w);
	return ret;
}

static const uint8_t *payload(const struct state_writer *w, size_t *len)
{
	struct state_reader r, sec;
	uint32_t id, idx;

	assert_int_equal(state_reader_init(&r, w->buf, w->len), 0);
	assert_int_equal(state_next_section(&r, &id, &idx, &sec), 1);
	*len = sec.len;
	return sec.p;
}

static void test_programmed_header_restored(void **state)
{
	struct fake a[N_DEVS], c[N_DEVS];
	struct pci_bus *src = bus_new(a), *dst = bus_new(c);
	struct state_writer w;
	const uint8_t *p;
	uint8_t addr[4], got[4];
	size_t len;

	conf_w(src, 1, 0x10, 0xd0000000U, 4);        /* BAR0 moved (a non-default address) */
	conf_w(src, 2, 0x04, 0x0004, 2);             /* bus master only: decoding off */
	conf_w(src, 3, 0x04, 0x0406, 2);             /* memory, bus master, INTx disable */
	conf_w(src, 3, 0x3c, 11, 1);                 /* interrupt line */
	conf_w(src, 0, 0x04, 0x0006, 2);             /* the host bridge's command */
	conf_w(src, 2, 0x08, 0, 4);                  /* conf1 left pointing at 00:02.0 */
	pci_conf_io(src, 0, addr, 4, false);
	assert_int_equal(a[0].moved_to, 0xd0000000U);
	assert_false(a[1].moved_on);
	saved(src, &w);
	p = payload(&w, &len);
	assert_int_equal(load_payload(dst, p, len), 0);
	for (unsigned i = 0; i < N_DEVS; i++) {
		assert_memory_equal(c[i].d.cfg, a[i].d.cfg, 0x40);
		assert_int_equal(c[i].d.bar_addr, a[i].d.bar_addr);
		assert_int_equal(c[i].d.bar_enabled, a[i].d.bar_enabled);
	}
	/* the devices were told: BAR0 moved, decoding off */
	assert_int_equal(c[0].moved_to, 0xd0000000U);
	assert_true(c[0].moved_on);
	assert_false(c[1].moved_on);
	pci_conf_io(dst, 0, got, 4, false);
	assert_memory_equal(got, addr, 4);
	/* a reset gives the firmware's assignment back */
	pci_bus_reset(dst);
	assert_int_equal(c[0].d.bar_addr, PCI_MMIO_BASE + 0x10000);
	assert_true(c[0].d.bar_enabled && c[1].d.bar_enabled);
	assert_int_equal(c[2].d.cfg[5], 0);
	state_writer_release(&w);
	pci_bus_free(src);
	pci_bus_free(dst);
}

static void test_hostile_sections(void **state)
{
	struct fake a[N_DEVS], c[N_DEVS];
	struct pci_bus *src = bus_new(a), *dst = bus_new(c);
	struct state_writer w;
	const uint8_t *good;
	uint8_t p[128], before[N_DEVS][0x40];
	size_t len, glen;
	unsigned loaded = 0, refused = 0;

	srandom(1717);
	conf_w(src, 1, 0x10, 0xd0000000U, 4);
	saved(src, &w);
	good = payload(&w, &glen);
	for (unsigned i = 0; i < 4000; i++) {
		memcpy(p, good, glen);
		len = glen;
		if (i % 4 == 0) {
			len = (size_t)random() % sizeof(p);
			for (size_t j = 0; j < len; j++)
				p[j] = (uint8_t)random();
		} else if (i % 4 == 3) {
			len = (size_t)random() % (glen + 2);
		} else {
			p[(size_t)random() % glen] ^= (uint8_t)(1U << (random() % 8));
		}
		for (unsigned d = 0; d < N_DEVS; d++)
			memcpy(before[d], c[d].d.cfg, 0x40);
		if (load_payload(dst, p, len) < 0) {
			refused++;
			for (unsigned d = 0; d < N_DEVS; d++)
				assert_memory_equal(before[d], c[d].d.cfg, 0x40);
			continue;
		}
		loaded++;
		for (unsigned d = 0; d < N_DEVS; d++) {
			uint32_t bar;

			memcpy(&bar, c[d].d.cfg + 0x10, 4);
			assert_int_equal(bar & 0xf, 0x4);
			assert_int_equal(bar & (c[d].d.bar_size - 1) & ~0xfU, 0);
			assert_int_equal(c[d].d.cfg[4] & ~0x07, 0);
			assert_int_equal(c[d].d.cfg[5] & ~0x04, 0);
			assert_int_equal(c[d].d.cfg[0], 0xf4); /* read-only bytes untouched */
			/* decoding only inside the window */
			if (c[d].d.bar_enabled)
				assert_true(c[d].d.bar_addr >= PCI_MMIO_BASE &&
					    c[d].d.bar_addr + c[d].d.bar_size <= PCI_MMIO_END);
		}
	}
	assert_true(loaded > 0 && refused > 0);
	state_writer_release(&w);
	pci_bus_free(src);
	pci_bus_free(dst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_programmed_header_restored),
		cmocka_unit_test(test_hostile_sections),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
