/*
 * The device-state stream (state.c) and every device's save/load (devices.c): a round trip
 * of each device with non-default state, the reader's refusals (truncation, version, lengths,
 * CRC, values out of range), and 10,000 seeded random or mutated streams fed to the loader
 * (run under the ASan build too: no crash, no read past the buffer, no allocation).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "disk/disk.h"
#include "vmm/dev/i8042.h"
#include "vmm/dev/legacy.h"
#include "vmm/dev/serial.h"
#include "vmm/dev/vmgenid.h"
#include "vmm/devices.h"
#include "vmm/memory.h"
#include "vmm/hotplug.h"
#include "vmm/pci.h"
#include "vmm/state.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/console.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/balloon.h"
#include "vmm/virtio/mem.h"
#include "vmm/virtio/pci.h"
#include "vmm/virtio/rng.h"
#include "vmm/virtio/vsock.h"
#include "vmm/vm.h"

#include "virtio-driver.h"

struct fx {
	char path[64];
	struct guest_mem mem;
	struct vm vm;
};

static const struct vm_device_ops *kind(const char *name)
{
	unsigned n;
	const struct vm_device_ops *const *t = vm_device_table(&n);

	for (unsigned i = 0; i < n; i++)
		if (strcmp(t[i]->name, name) == 0)
			return t[i];
	fail_msg("no device kind %s", name);
	return NULL;
}

/* A "VM" with one of each device that has state, built without KVM (as the unit tests do). */
static void fx_build(struct fx *f)
{
	struct hull_err err = { 0 };
	struct rtc *rtc = xcalloc(1, sizeof(*rtc));
	struct i8042 *k = xmalloc(sizeof(*k));
	struct serial *s = NULL;
	struct pci_bus *bus = NULL;
	struct disk *d = NULL;
	struct vm_device *devs = xcalloc(16, sizeof(*devs));
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	static const int no_fd = -1; /* no backend: the state is all guest-visible */
	const struct vm_balloon_config bcfg = { .enabled = true, .amount_mib = 0, .stats_s = 1 };
	const struct vm_mem_hotplug_config mcfg = { .size = 64ULL << 20 };
	unsigned n = 0;

	assert_int_equal(disk_open(f->path, DISK_FORMAT_RAW, 0, &d, &err), 0);
	assert_int_equal(serial_create(NULL, -1, &s, &err), 0);
	rtc_init(rtc);
	i8042_init(k, NULL);
	devs[n++] = (struct vm_device){ kind("serial"), 0, s };
	devs[n++] = (struct vm_device){ kind("rtc"), 0, rtc };
	devs[n++] = (struct vm_device){ kind("i8042"), 0, k };
	assert_int_equal(pci_bus_create(NULL, &bus, &err), 0);
	devs[n++] = (struct vm_device){ kind("pci"), 0, bus };
	devs[n++] = (struct vm_device){ kind("virtio-blk"), 0,
					virtio_blk_new_test(&f->mem, d, "state") };
	devs[n++] = (struct vm_device){ kind("virtio-rng"), 0, virtio_rng_new_test(&f->mem) };
	devs[n++] = (struct vm_device){ kind("virtio-console"), 0,
					virtio_console_new_test(&f->mem, -1) };
	devs[n++] = (struct vm_device){ kind("virtio-net"), 0,
					virtio_net_new_test(&f->mem, mac, &no_fd, 1) };
	devs[n++] = (struct vm_device){ kind("virtio-balloon"), 0,
					virtio_balloon_new_test(&f->mem, &bcfg) };
	devs[n++] = (struct vm_device){ kind("virtio-vsock"), 0,
					virtio_vsock_new_test(&f->mem, 42) };
	devs[n++] = (struct vm_device){ kind("virtio-mem"), 0, virtio_mem_new_test(&f->mem, &mcfg) };
	devs[n++] = (struct vm_device){ kind("vmgenid"), 0, vmgenid_new_test(&f->mem, false) };
	devs[n++] = (struct vm_device){ kind("pci-hotplug"), 0, pcihp_new_test() };
	memset(&f->vm, 0, sizeof(f->vm));
	f->vm.devs = devs;
	f->vm.n_devs = n;
}

static int setup(void **state)
{
	static struct fx f;
	int fd;

	memset(&f, 0, sizeof(f));
	strcpy(f.path, "/tmp/hull-test-state-XXXXXX");
	fd = mkstemp(f.path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	assert_int_equal(gmem_init(&f.mem, 1U << 20), 0);
	assert_int_equal(gmem_hotplug_init(&f.mem, 64ULL << 20), 0); /* virtio-mem's region */
	fx_build(&f);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vm_devices_free(&f->vm);
	gmem_release(&f->mem);
	unlink(f->path);
	return 0;
}

/* Drive every device away from its reset state, as a guest would. */
static void dirty(struct fx *f)
{
	uint8_t b;

	for (unsigned i = 0; i < f->vm.n_devs; i++) {
		struct vm_device *d = &f->vm.devs[i];

		if (strcmp(d->ops->name, "serial") == 0) {
			b = 0x05; serial_io(d->dev, 1, &b, 1, true);  /* IER */
			b = 0x83; serial_io(d->dev, 3, &b, 1, true);  /* LCR, DLAB */
			b = 0x0c; serial_io(d->dev, 0, &b, 1, true);  /* DLL */
			b = 0x03; serial_io(d->dev, 3, &b, 1, true);
			b = 0x5a; serial_io(d->dev, 7, &b, 1, true);  /* scratch */
			(void)serial_input(d->dev, (const uint8_t *)"typed", 5);
		} else if (strcmp(d->ops->name, "rtc") == 0) {
			b = 0x0e; rtc_io(d->dev, 0, &b, 1, true);
			b = 0x42; rtc_io(d->dev, 1, &b, 1, true);
		} else if (strcmp(d->ops->name, "i8042") == 0) {
			b = 0xaa; i8042_io(d->dev, 4, &b, 1, true); /* self-test: 0x55 queued */
			i8042_ctrl_alt_del(d->dev);
		} else if (strcmp(d->ops->name, "pci") == 0) {
			uint8_t a[4] = { 0x04, 0x00, 0x00, 0x80 }; /* 00:00.0, the command register */

			pci_conf_io(d->dev, 0, a, 4, true);
			b = 0x06; pci_conf_io(d->dev, 4, &b, 1, true); /* memory, bus master */
		} else if (strcmp(d->ops->name, "pci") != 0 &&
			   strcmp(d->ops->name, "vmgenid") != 0 && /* its GUID is new already */
			   strcmp(d->ops->name, "pci-hotplug") != 0) { /* test-pcihp.c's */
			struct virtio_pci_dev *v = d->dev;

			drv_features(v);
			drv_queue(v, 0, 8, 1, DESC, AVAIL, USED);
			if (strcmp(d->ops->name, "virtio-vsock") == 0) /* vhost needs rx and tx */
				drv_queue(v, 1, 8, 1, DESC + 0x1000, AVAIL + 0x1000, USED + 0x1000);
			drv_ok(v);
			bar_w(v, VIRTIO_BAR_MSIX + 16, 0xfee00000, 4);
			bar_w(v, VIRTIO_BAR_MSIX + 24, 0x4041, 4);
			v->st.vq[0].last_avail = 3; /* as after serving requests */
			v->st.vq[0].used_idx = 3;
		}
	}
}

static void save(struct fx *f, struct state_writer *w)
{
	state_writer_init(w);
	assert_int_equal(vm_devices_save(&f->vm, w), 0);
	assert_int_equal(state_writer_finish(w), 0);
}

/* The payload of the first section with this id in a finished stream, or NULL. */
static const uint8_t *section(const struct state_writer *w, uint32_t id, size_t *len)
{
	struct state_reader r, sec;
	uint32_t sid, inst;

	if (state_reader_init(&r, w->buf, w->len) < 0)
		return NULL;
	while (state_next_section(&r, &sid, &inst, &sec) > 0)
		if (sid == id) {
			*len = sec.len;
			return sec.p;
		}
	return NULL;
}

static void test_roundtrip_every_device(void **state)
{
	struct fx *f = *state;
	struct state_writer clean, w, w2;
	struct hull_err err = { 0 };
	unsigned n_kinds;
	const struct vm_device_ops *const *t = vm_device_table(&n_kinds);

	save(f, &clean);
	dirty(f);
	save(f, &w);
	assert_true(w.len != clean.len || memcmp(w.buf, clean.buf, w.len) != 0);
	/* Fresh devices: loading the saved stream gives back the same state, byte for byte. */
	vm_devices_free(&f->vm);
	fx_build(f);
	assert_int_equal(vm_devices_load(&f->vm, w.buf, w.len, &err), 0);
	save(f, &w2);
	assert_int_equal(w2.len, w.len);
	assert_memory_equal(w2.buf, w.buf, w.len);
	/* Every kind with state is in the stream (the test covers them all). */
	for (unsigned i = 0; i < n_kinds; i++) {
		bool found = false;

		for (unsigned j = 0; j < f->vm.n_devs; j++)
			found |= f->vm.devs[j].ops == t[i];
		assert_true(found || !t[i]->save);
	}
	/* Every device but the bus has a reset, and a reset gives the state as created. */
	for (unsigned i = 0; i < n_kinds; i++)
		assert_true(t[i]->reset || !t[i]->save);
	vm_devices_reset(&f->vm);
	state_writer_release(&w2);
	save(f, &w2);
	for (uint32_t id = 1; id <= 3; id++) { /* serial, RTC, i8042: as created */
		size_t a_len, b_len;
		const uint8_t *a = section(&clean, id, &a_len), *b = section(&w2, id, &b_len);

		assert_non_null(a);
		assert_non_null(b);
		assert_int_equal(a_len, b_len);
		assert_memory_equal(a, b, a_len);
	}
	/* virtio: status 0, queues off (the MSI-X table is the PCI function's: it stays) */
	for (unsigned j = 0; j < f->vm.n_devs; j++)
		if (f->vm.devs[j].ops->state_id >= 0x10 &&
		    strcmp(f->vm.devs[j].ops->name, "vmgenid") != 0 &&
		    strcmp(f->vm.devs[j].ops->name, "pci-hotplug") != 0) {
			struct virtio_pci_dev *v = f->vm.devs[j].dev;

			assert_int_equal(v->st.status, 0);
			for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
				assert_false(v->st.vq[q].ready);
		}
	state_writer_release(&clean);
	state_writer_release(&w);
	state_writer_release(&w2);
}

static uint32_t le32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

/* Recompute every section's CRC (so mutations reach the device loaders); stop at a bad length. */
static void fix_crcs(uint8_t *p, size_t len)
{
	size_t pos = VM_STATE_HDR_SIZE;

	while (len - pos >= VM_STATE_SECTION_HDR && len >= pos) {
		uint32_t l = le32_at(p + pos + 8);

		if (l > len - pos - VM_STATE_SECTION_HDR)
			return;
		put_le32(p + pos + 12, (uint32_t)crc32(0L, p + pos + 16, l));
		pos += VM_STATE_SECTION_HDR + l;
	}
}

static int load(struct fx *f, const uint8_t *p, size_t len)
{
	struct hull_err err = { 0 };

	return vm_devices_load(&f->vm, p, len, &err);
}

static void test_reader_refuses(void **state)
{
	struct fx *f = *state;
	struct state_writer w;
	size_t first;
	uint8_t *p;

	dirty(f);
	save(f, &w);
	p = xmalloc(w.len + 16);
	/* Every truncation is refused (a prefix that ends exactly between sections is whole). */
	for (size_t n = 0; n < w.len; n++) {
		int r = load(f, w.buf, n);
		size_t pos = VM_STATE_HDR_SIZE;
		bool boundary = false;

		while (pos <= n) {
			if (pos == n)
				boundary = true;
			if (w.len - pos < VM_STATE_SECTION_HDR)
				break;
			pos += VM_STATE_SECTION_HDR + le32_at(w.buf + pos + 8);
		}
		if (boundary)
			assert_int_equal(r, 0);
		else
			assert_true(r < 0);
	}
	/* Magic, version, a length past the end, a CRC mismatch. */
	memcpy(p, w.buf, w.len);
	p[0] ^= 1;
	assert_int_equal(load(f, p, w.len), -EBADMSG);
	memcpy(p, w.buf, w.len);
	put_le32(p + 8, VM_STATE_VERSION + 1);
	assert_int_equal(load(f, p, w.len), -EPROTONOSUPPORT);
	memcpy(p, w.buf, w.len);
	put_le32(p + VM_STATE_HDR_SIZE + 8, 0xffffffffU);
	assert_int_equal(load(f, p, w.len), -EBADMSG);
	memcpy(p, w.buf, w.len);
	p[w.len - 1] ^= 0x80;
	assert_int_equal(load(f, p, w.len), -EBADMSG);
	/* Trailing garbage after the last section (a section header cut short). */
	memcpy(p, w.buf, w.len);
	memset(p + w.len, 0, 8);
	assert_int_equal(load(f, p, w.len + 8), -EBADMSG);
	/* A second section for the same device (the first section, whole, again). */
	free(p);
	first = VM_STATE_SECTION_HDR + le32_at(w.buf + VM_STATE_HDR_SIZE + 8);
	p = xmalloc(w.len + first);
	memcpy(p, w.buf, w.len);
	memcpy(p + w.len, w.buf + VM_STATE_HDR_SIZE, first);
	assert_int_equal(load(f, p, w.len + first), -EBADMSG);
	free(p);
	state_writer_release(&w);
}

/* Values out of range with a valid CRC: each refused by the device's own checks. */
static void test_values_out_of_range(void **state)
{
	struct fx *f = *state;
	struct state_writer w;

	/* serial: IER with bits the chip does not have */
	state_writer_init(&w);
	state_begin(&w, kind("serial")->state_id, 0);
	state_put_bytes(&w, "\xf0\x00\x08\x00\x00\x0c\x00", 7);
	state_put_u8(&w, 0);
	state_put_u16(&w, 0);
	state_end(&w);
	assert_int_equal(load(f, w.buf, w.len), -EBADMSG);
	state_writer_release(&w);
	/* serial: more input than its buffer */
	state_writer_init(&w);
	state_begin(&w, kind("serial")->state_id, 0);
	state_put_bytes(&w, "\x00\x00\x08\x00\x00\x0c\x00", 7);
	state_put_u8(&w, 0);
	state_put_u16(&w, 60000);
	state_end(&w);
	assert_int_equal(load(f, w.buf, w.len), -EBADMSG);
	state_writer_release(&w);
	/* rtc: an index past the 128 CMOS bytes */
	state_writer_init(&w);
	state_begin(&w, kind("rtc")->state_id, 0);
	state_put_u8(&w, 0x80);
	for (int i = 0; i < 128; i++)
		state_put_u8(&w, 0);
	state_end(&w);
	assert_int_equal(load(f, w.buf, w.len), -EBADMSG);
	state_writer_release(&w);
	/* i8042: a queue longer than the controller's */
	state_writer_init(&w);
	state_begin(&w, kind("i8042")->state_id, 0);
	state_put_u32(&w, 0);
	state_put_u8(&w, I8042_OUTQ + 1);
	for (int i = 0; i < I8042_OUTQ + 1; i++)
		state_put_u8(&w, 0);
	state_end(&w);
	assert_int_equal(load(f, w.buf, w.len), -EBADMSG);
	state_writer_release(&w);
	/* an instance this VM does not have */
	state_writer_init(&w);
	state_begin(&w, kind("virtio-blk")->state_id, 7);
	state_end(&w);
	assert_int_equal(load(f, w.buf, w.len), -EBADMSG);
	state_writer_release(&w);
}

/* A virtio queue whose ring lies outside guest RAM, or whose size is too large, is refused. */
static void test_virtio_queue_out_of_range(void **state)
{
	struct fx *f = *state;
	struct state_writer w;
	struct hull_err err = { 0 };

	dirty(f);
	for (unsigned bad = 0; bad < 3; bad++) {
		struct virtio_pci_dev *v = NULL;
		struct virtio_pci_state before;

		for (unsigned i = 0; i < f->vm.n_devs; i++)
			if (strcmp(f->vm.devs[i].ops->name, "virtio-rng") == 0)
				v = f->vm.devs[i].dev;
		before = v->st;
		if (bad == 0)
			v->st.vq[0].desc_gpa = 0xfffff000; /* past the 1 MiB of RAM */
		else if (bad == 1)
			v->st.vq[0].size = VIRTQ_MAX_SIZE * 2;
		else
			v->st.msix_ctrl = 0x07ff; /* the table size is not writable */
		save(f, &w);
		v->st = before;
		assert_int_equal(vm_devices_load(&f->vm, w.buf, w.len, &err), -EBADMSG);
		assert_memory_equal(&v->st, &before, sizeof(before)); /* nothing changed */
		state_writer_release(&w);
	}
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64*: seeded, so a failure reproduces */
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 2685821657736338717ULL;
}

static void mutate(uint8_t *p, size_t *len, size_t cap)
{
	unsigned n = 1 + (unsigned)(rnd() % 8);

	for (unsigned i = 0; i < n && *len; i++) {
		size_t at = rnd() % *len;

		switch (rnd() % 6) {
		case 0: p[at] ^= (uint8_t)(1U << (rnd() % 8)); break;
		case 1: p[at] = (uint8_t)rnd(); break;
		case 2: *len = at; break; /* truncate */
		case 3: /* a 32-bit field set to an edge value */
			if (*len - at >= 4)
				put_le32(p + at, (uint32_t[]){ 0, 1, 0x7fffffff, 0xffffffff,
							       0x10000 }[rnd() % 5]);
			break;
		case 4: /* duplicate a slice to the end */
			if (*len < cap) {
				size_t l = rnd() % (cap - *len) + 1;

				l = l > *len - at ? *len - at : l;
				memmove(p + *len, p + at, l);
				*len += l;
			}
			break;
		default: memset(p + at, 0xff, *len - at > 16 ? 16 : *len - at); break;
		}
	}
}

static void test_fuzz_10000(void **state)
{
	struct fx *f = *state;
	struct state_writer w;
	size_t cap;
	uint8_t *p;
	unsigned ok = 0, refused = 0;

	dirty(f);
	save(f, &w);
	cap = w.len * 2;
	p = xmalloc(cap);
	for (unsigned i = 0; i < 10000; i++) {
		size_t len;
		int r;

		if (i % 10 == 0) { /* pure noise, sometimes behind a valid header */
			len = rnd() % cap;
			for (size_t j = 0; j < len; j++)
				p[j] = (uint8_t)rnd();
			if (i % 20 == 0 && len >= VM_STATE_HDR_SIZE)
				memcpy(p, w.buf, VM_STATE_HDR_SIZE);
		} else {
			len = w.len;
			memcpy(p, w.buf, len);
			mutate(p, &len, cap);
			if (i % 2)
				fix_crcs(p, len); /* past the CRC: the device loaders see it */
		}
		r = load(f, p, len);
		assert_true(r == 0 || r == -EBADMSG || r == -EPROTONOSUPPORT);
		if (r == 0)
			ok++;
		else
			refused++;
		/* Whatever was loaded, the devices still save a well-formed stream. */
		if (i % 100 == 0) {
			struct state_writer w2;
			struct hull_err err = { 0 };

			save(f, &w2);
			assert_int_equal(vm_devices_load(&f->vm, w2.buf, w2.len, &err), 0);
			state_writer_release(&w2);
		}
	}
	print_message("fuzz: %u loaded, %u refused\n", ok, refused);
	assert_true(refused > 5000);
	free(p);
	state_writer_release(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip_every_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_virtio_queue_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fuzz_10000, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
