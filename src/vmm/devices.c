/* The device table (devices.h): creation, reverse teardown, reset, save and load. */
#include "vmm/devices.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "vmm/dev/i8042.h"
#include "vmm/dev/legacy.h"
#include "vmm/dev/serial.h"
#include "vmm/dev/vmgenid.h"
#include "vmm/hotplug.h"
#include "vmm/pci.h"
#include "vmm/state.h"
#include "vmm/virtio/balloon.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/console.h"
#include "vmm/virtio/fs.h"
#include "vmm/virtio/mem.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/pci.h"
#include "vmm/virtio/rng.h"
#include "vmm/virtio/vsock.h"
#include "vmm/vm.h"

static unsigned one(const struct vm_config *cfg)
{
	(void)cfg;
	return 1;
}

static bool has_pci(const struct vm_config *cfg)
{
	return cfg->kernel_kind != VM_KERNEL_RAW;
}

static int serial_dev_create(struct vm *vm, unsigned idx, void **ret, struct hull_err *err)
{
	/* With --console virtio the UART still prints (early messages), hvc0 gets the input. */
	int r = serial_create(vm, vm->cfg->console != VM_CONSOLE_NONE ? STDOUT_FILENO : -1,
			      &vm->serial, err);

	*ret = vm->serial;
	return r;
}

static void serial_dev_free(void *dev)
{
	serial_free(dev);
}

static void serial_dev_reset(void *dev)
{
	serial_reset(dev);
}

static void serial_dev_save(void *dev, struct state_writer *w)
{
	serial_save(dev, w);
}

static int serial_dev_load(void *dev, struct state_reader *r)
{
	return serial_load(dev, r);
}

static int rtc_dev_create(struct vm *vm, unsigned idx, void **ret, struct hull_err *err)
{
	int r = legacy_devices_create(vm, &vm->rtc, err);

	*ret = vm->rtc;
	return r;
}

static void rtc_dev_reset(void *dev)
{
	rtc_reset(dev);
}

static void rtc_dev_save(void *dev, struct state_writer *w)
{
	rtc_save(dev, w);
}

static int rtc_dev_load(void *dev, struct state_reader *r)
{
	return rtc_load(dev, r);
}

static int i8042_dev_create(struct vm *vm, unsigned idx, void **ret, struct hull_err *err)
{
	int r = i8042_create(vm, &vm->kbd, err);

	*ret = vm->kbd;
	return r;
}

static void i8042_dev_free(void *dev)
{
	i8042_free(dev);
}

static void i8042_dev_reset(void *dev)
{
	i8042_reset(dev);
}

static void i8042_dev_save(void *dev, struct state_writer *w)
{
	i8042_save(dev, w);
}

static int i8042_dev_load(void *dev, struct state_reader *r)
{
	return i8042_load(dev, r);
}

static unsigned pci_count(const struct vm_config *cfg)
{
	return has_pci(cfg);
}

static int pci_dev_create(struct vm *vm, unsigned idx, void **ret, struct hull_err *err)
{
	int r = pci_bus_create(vm, &vm->pci, err);

	*ret = vm->pci;
	return r;
}

static void pci_dev_free(void *dev)
{
	pci_bus_free(dev);
}

static void pci_dev_reset(void *dev)
{
	pci_bus_reset(dev);
}

static void pci_dev_save(void *dev, struct state_writer *w)
{
	pci_bus_save(dev, w);
}

static int pci_dev_load(void *dev, struct state_reader *r)
{
	return pci_bus_load(dev, r);
}

static unsigned blk_count(const struct vm_config *cfg)
{
	return has_pci(cfg) ? (unsigned)cfg->n_disks : 0;
}

static int blk_dev_create(struct vm *vm, unsigned idx, void **ret, struct hull_err *err)
{
	return virtio_blk_create(vm, &vm->cfg->disks[idx], &vm->disks[idx],
				 (struct virtio_pci_dev **)ret, err);
}

static void blk_dev_free(void *dev)
{
	virtio_blk_free(dev);
}

static void blk_dev_metrics(void *dev, void (*put)(void *ctx, const char *name, uint64_t value),
			    void *ctx)
{
	virtio_blk_metrics(dev, put, ctx);
}

static unsigned rng_count(const struct vm_config *cfg)
{
	return has_pci(cfg) && cfg->rng;
}

static int rng_dev_create(struct vm *vm, unsigned idx, void **ret, struct hull_err *err)
{
	return virtio_rng_create(vm, (struct virtio_pci_dev **)ret, err);
}

static void rng_dev_free(void *dev)
{
	virtio_rng_free(dev);
}

static unsigned console_count(const struct vm_config *cfg)
{
	return has_pci(cfg) && cfg->console == VM_CONSOLE_VIRTIO;
}

static int console_dev_create(struct vm *vm, unsigned idx, void **ret, struct hull_err *err)
{
	int r = virtio_console_create(vm, STDOUT_FILENO, &vm->vcon, err);

	*ret = vm->vcon;
	return r;
}

static void console_dev_free(void *dev)
{
	virtio_console_free(dev);
}

static unsigned vsock_count(const struct vm_config *cfg)
{
	return has_pci(cfg) && cfg->vsock;
}

static int vsock_dev_create(struct vm *vm, unsigned idx, void **ret, struct hull_err *err)
{
	int fd = vm->vsock_fd;

	vm->vsock_fd = -1; /* the device owns it now, on failure too */
	return virtio_vsock_create(vm, fd, vm->vsock_cid, (struct virtio_pci_dev **)ret, err);
}

static void vsock_dev_free(void *dev)
{
	virtio_vsock_free(dev);
}

static int vsock_dev_load(void *dev, struct state_reader *r)
{
	return virtio_vsock_load(dev, r);
}

static unsigned net_count(const struct vm_config *cfg)
{
	return has_pci(cfg) ? (unsigned)cfg->n_nets : 0;
}

static int net_dev_create(struct vm *vm, unsigned idx, void **ret, struct hull_err *err)
{
	int r = virtio_net_create(vm, &vm->cfg->nets[idx], &vm->net_be[idx],
				  (struct virtio_pci_dev **)ret, err);

	if (r == 0)
		vm->nics[idx] = *ret;
	return r;
}

static void net_dev_free(void *dev)
{
	virtio_net_free(dev);
}

static unsigned balloon_count(const struct vm_config *cfg)
{
	return has_pci(cfg) && cfg->balloon.enabled;
}

static int balloon_dev_create(struct vm *vm, unsigned idx, void **ret, struct hull_err *err)
{
	return virtio_balloon_create(vm, &vm->cfg->balloon, (struct virtio_pci_dev **)ret, err);
}

static void balloon_dev_free(void *dev)
{
	virtio_balloon_free(dev);
}

static void balloon_dev_save(void *dev, struct state_writer *w)
{
	virtio_balloon_save(dev, w);
}

static int balloon_dev_load(void *dev, struct state_reader *r)
{
	return virtio_balloon_load(dev, r);
}

static unsigned mem_count(const struct vm_config *cfg)
{
	return has_pci(cfg) && cfg->mem_hotplug.size;
}

static int mem_dev_create(struct vm *vm, unsigned idx, void **ret, struct hull_err *err)
{
	return virtio_mem_create(vm, &vm->cfg->mem_hotplug, (struct virtio_pci_dev **)ret, err);
}

static void mem_dev_free(void *dev)
{
	virtio_mem_free(dev);
}

static void mem_dev_save(void *dev, struct state_writer *w)
{
	virtio_mem_save(dev, w);
}

static int mem_dev_load(void *dev, struct state_reader *r)
{
	return virtio_mem_load(dev, r);
}

static void mem_dev_metrics(void *dev, void (*put)(void *ctx, const char *name, uint64_t value),
			    void *ctx)
{
	struct vmem_info i;

	virtio_mem_info(dev, &i);
	put(ctx, "plugged_bytes", i.plugged_size);
	put(ctx, "requested_bytes", i.requested_size);
	put(ctx, "acks", i.acks);
	put(ctx, "nacks", i.nacks);
	put(ctx, "errors", i.errors);
}

static void net_dev_metrics(void *dev, void (*put)(void *ctx, const char *name, uint64_t value),
			    void *ctx)
{
	struct virtio_net_counters c;

	virtio_net_get_counters(dev, &c);
	put(ctx, "rx_packets", c.rx_packets);
	put(ctx, "rx_bytes", c.rx_bytes);
	put(ctx, "tx_packets", c.tx_packets);
	put(ctx, "tx_bytes", c.tx_bytes);
	put(ctx, "rx_dropped", c.rx_dropped);
	put(ctx, "tx_dropped", c.tx_dropped);
	put(ctx, "tx_bad_hdr", c.tx_bad_hdr);
	put(ctx, "rx_stalls", c.rx_stalls);
	/* 1: the kernel moves the frames (vhost-net), which the counters above do not see */
	put(ctx, "vhost", virtio_net_is_vhost(dev));
}

static void net_dev_save(void *dev, struct state_writer *w)
{
	virtio_net_save(dev, w);
}

static int net_dev_load(void *dev, struct state_reader *r)
{
	return virtio_net_load(dev, r);
}

static unsigned fs_count(const struct vm_config *cfg)
{
	return has_pci(cfg) ? (unsigned)cfg->n_fs : 0;
}

static int fs_dev_create(struct vm *vm, unsigned idx, void **ret, struct hull_err *err)
{
	int sock = vm->fs_sock[idx];

	vm->fs_sock[idx] = -1; /* the device owns it now, on failure too */
	return virtio_fs_create(vm, &vm->cfg->fs[idx], sock, (struct virtio_pci_dev **)ret, err);
}

static void fs_dev_free(void *dev)
{
	virtio_fs_free(dev);
}

/* ACPI platforms only (the DSDT names it): every VM with a Linux kernel. */
static unsigned vmgenid_count(const struct vm_config *cfg)
{
	return has_pci(cfg);
}

static int vmgenid_dev_create(struct vm *vm, unsigned idx, void **ret, struct hull_err *err)
{
	return vmgenid_create(vm, (struct vmgenid **)ret, err);
}

/* A reboot is the same VM: it keeps its generation ID (Hyper-V's too). */
static void vmgenid_dev_reset(void *dev)
{
	(void)dev;
}

static void vmgenid_dev_free(void *dev)
{
	vmgenid_free(dev);
}

static void vmgenid_dev_save(void *dev, struct state_writer *w)
{
	vmgenid_save(dev, w);
}

static int vmgenid_dev_load(void *dev, struct state_reader *r)
{
	return vmgenid_load(dev, r);
}

static void virtio_dev_reset(void *dev)
{
	virtio_pci_reset(dev);
}

static void virtio_dev_save(void *dev, struct state_writer *w)
{
	virtio_pci_save(dev, w);
}

static void virtio_dev_thaw(void *dev)
{
	virtio_pci_thaw(dev);
}

static int virtio_dev_load(void *dev, struct state_reader *r)
{
	return virtio_pci_load(dev, r);
}

static const struct vm_device_ops serial_ops = {
	.name = "serial", .state_id = 1, .count = one, .create = serial_dev_create,
	.reset = serial_dev_reset, .free = serial_dev_free, .save = serial_dev_save,
	.load = serial_dev_load,
};
static const struct vm_device_ops rtc_ops = {
	.name = "rtc", .state_id = 2, .count = one, .create = rtc_dev_create,
	.reset = rtc_dev_reset, .free = free, .save = rtc_dev_save, .load = rtc_dev_load,
};
static const struct vm_device_ops i8042_ops = {
	.name = "i8042", .state_id = 3, .count = one, .create = i8042_dev_create,
	.reset = i8042_dev_reset, .free = i8042_dev_free, .save = i8042_dev_save,
	.load = i8042_dev_load,
};
static const struct vm_device_ops pci_ops = {
	.name = "pci", .state_id = 4, .count = pci_count, .create = pci_dev_create,
	.free = pci_dev_free, .reset = pci_dev_reset, .save = pci_dev_save, .load = pci_dev_load,
};
static const struct vm_device_ops blk_ops = {
	.name = "virtio-blk", .state_id = 0x10, .count = blk_count, .create = blk_dev_create,
	.reset = virtio_dev_reset, .free = blk_dev_free, .save = virtio_dev_save,
	.load = virtio_dev_load, .metrics = blk_dev_metrics,
	.thaw = virtio_dev_thaw,
};
static const struct vm_device_ops rng_ops = {
	.name = "virtio-rng", .state_id = 0x11, .count = rng_count, .create = rng_dev_create,
	.reset = virtio_dev_reset, .free = rng_dev_free, .save = virtio_dev_save,
	.load = virtio_dev_load,
	.thaw = virtio_dev_thaw,
};
static const struct vm_device_ops console_ops = {
	.name = "virtio-console", .state_id = 0x12, .count = console_count,
	.create = console_dev_create, .reset = virtio_dev_reset, .free = console_dev_free,
	.save = virtio_dev_save, .load = virtio_dev_load,
	.thaw = virtio_dev_thaw,
};
static const struct vm_device_ops vsock_ops = {
	.name = "virtio-vsock", .state_id = 0x15, .count = vsock_count,
	.create = vsock_dev_create, .reset = virtio_dev_reset, .free = vsock_dev_free,
	.save = virtio_dev_save, .load = vsock_dev_load,
	.thaw = virtio_dev_thaw,
};
static const struct vm_device_ops net_ops = {
	.name = "virtio-net", .state_id = 0x13, .count = net_count, .create = net_dev_create,
	.reset = virtio_dev_reset, .free = net_dev_free, .save = net_dev_save,
	.load = net_dev_load, .metrics = net_dev_metrics,
	.thaw = virtio_dev_thaw,
};

static const struct vm_device_ops balloon_ops = {
	.name = "virtio-balloon", .state_id = 0x14, .count = balloon_count,
	.create = balloon_dev_create, .reset = virtio_dev_reset, .free = balloon_dev_free,
	.save = balloon_dev_save, .load = balloon_dev_load,
	.thaw = virtio_dev_thaw,
};

static const struct vm_device_ops mem_ops = {
	.name = "virtio-mem", .state_id = 0x16, .count = mem_count,
	.create = mem_dev_create, .reset = virtio_dev_reset, .free = mem_dev_free,
	.save = mem_dev_save, .load = mem_dev_load, .metrics = mem_dev_metrics,
	.thaw = virtio_dev_thaw,
};

/* The PCI hot-plug controller (hotplug.h): every VM with a PCI bus. */
static int pcihp_dev_create(struct vm *vm, unsigned idx, void **ret, struct hull_err *err)
{
	int r = pcihp_create(vm, (struct pcihp **)ret, err);

	vm->pcihp = *ret;
	(void)idx;
	return r;
}

static void pcihp_dev_free(void *dev)
{
	pcihp_free(dev);
}

static void pcihp_dev_reset(void *dev)
{
	pcihp_reset(dev);
}

static void pcihp_dev_save(void *dev, struct state_writer *w)
{
	pcihp_save(dev, w);
}

static int pcihp_dev_load(void *dev, struct state_reader *r)
{
	return pcihp_load(dev, r);
}

static const struct vm_device_ops pcihp_ops = {
	.name = "pci-hotplug", .state_id = 0x19, .count = vmgenid_count,
	.create = pcihp_dev_create, .reset = pcihp_dev_reset, .free = pcihp_dev_free,
	.save = pcihp_dev_save, .load = pcihp_dev_load,
};

static const struct vm_device_ops vmgenid_ops = {
	.name = "vmgenid", .state_id = 0x17, .count = vmgenid_count,
	.create = vmgenid_dev_create, .reset = vmgenid_dev_reset, .free = vmgenid_dev_free,
	.save = vmgenid_dev_save, .load = vmgenid_dev_load,
};

/*
 * No save/load: the filesystem's state (open files, FUSE inodes) lives in virtiofsd, so a
 * snapshot or a migration of a VM with --fs is refused (vm_snapshot, vm_migrate).
 */
static const struct vm_device_ops fs_ops = {
	.name = "virtio-fs", .state_id = 0x18, .count = fs_count, .create = fs_dev_create,
	.reset = virtio_dev_reset, .free = fs_dev_free,
};

/* Creation order: the PCI bus before the devices on it; virtio devices in slot order. */
static const struct vm_device_ops *const device_table[] = {
	&serial_ops, &rtc_ops, &i8042_ops, &pci_ops, &blk_ops, &rng_ops, &console_ops,
	&net_ops,
	&balloon_ops,
	&vsock_ops,
	&mem_ops,
	&vmgenid_ops,
	&fs_ops,
	&pcihp_ops,
};
#define N_KINDS (sizeof(device_table) / sizeof(device_table[0]))

void *vm_device_find(struct vm *vm, const char *name, unsigned idx)
{
	for (unsigned i = 0; i < vm->n_devs; i++)
		if (strcmp(vm->devs[i].ops->name, name) == 0 && vm->devs[i].idx == idx)
			return vm->devs[i].dev;
	return NULL;
}

const struct vm_device_ops *const *vm_device_table(unsigned *n)
{
	*n = N_KINDS;
	return device_table;
}

int vm_devices_create(struct vm *vm, struct hull_err *err)
{
	unsigned total = 0;

	for (size_t k = 0; k < N_KINDS; k++)
		total += device_table[k]->count(vm->cfg);
	/* room for the NICs hot-plugged later (hotplug-net.c appends them) */
	vm->devs = xcalloc(total + PCIHP_NUM_SLOTS, sizeof(*vm->devs));
	for (size_t k = 0; k < N_KINDS; k++) {
		const struct vm_device_ops *ops = device_table[k];
		unsigned n = ops->count(vm->cfg);

		for (unsigned i = 0; i < n; i++) {
			void *dev = NULL;
			int r = ops->create(vm, i, &dev, err);

			if (r < 0)
				return r;
			vm->devs[vm->n_devs++] = (struct vm_device){ .ops = ops, .idx = i, .dev = dev };
		}
	}
	return 0;
}

void vm_devices_attach(struct vm *vm, const char *kind, unsigned idx, void *dev)
{
	for (size_t k = 0; k < N_KINDS; k++)
		if (strcmp(device_table[k]->name, kind) == 0) {
			vm->devs[vm->n_devs++] = (struct vm_device){ device_table[k], idx, dev };
			return;
		}
	abort(); /* a kind of this table: a bug otherwise */
}

void vm_devices_detach(struct vm *vm, void *dev)
{
	for (unsigned i = 0; i < vm->n_devs; i++)
		if (vm->devs[i].dev == dev) {
			memmove(&vm->devs[i], &vm->devs[i + 1],
				(vm->n_devs - i - 1) * sizeof(vm->devs[0]));
			vm->n_devs--;
			return;
		}
}

void vm_devices_free(struct vm *vm)
{
	while (vm->n_devs) {
		struct vm_device *d = &vm->devs[--vm->n_devs];

		d->ops->free(d->dev);
	}
	free(vm->devs);
	vm->devs = NULL;
	vm->serial = NULL;
	vm->rtc = NULL;
	vm->kbd = NULL;
	vm->pci = NULL;
	vm->pcihp = NULL;
	vm->vcon = NULL;
	memset(vm->nics, 0, sizeof(vm->nics));
}

void vm_devices_reset(struct vm *vm)
{
	for (unsigned i = 0; i < vm->n_devs; i++)
		if (vm->devs[i].ops->reset)
			vm->devs[i].ops->reset(vm->devs[i].dev);
}

void vm_devices_thaw(struct vm *vm)
{
	for (unsigned i = 0; i < vm->n_devs; i++)
		if (vm->devs[i].ops->thaw)
			vm->devs[i].ops->thaw(vm->devs[i].dev);
}

int vm_devices_save(struct vm *vm, struct state_writer *w)
{
	for (unsigned i = 0; i < vm->n_devs; i++) {
		const struct vm_device *d = &vm->devs[i];

		if (!d->ops->save)
			continue;
		state_begin(w, d->ops->state_id, d->idx);
		d->ops->save(d->dev, w);
		state_end(w);
	}
	return w->err;
}

static struct vm_device *device_find(struct vm *vm, uint32_t id, uint32_t idx)
{
	for (unsigned i = 0; i < vm->n_devs; i++)
		if (vm->devs[i].ops->state_id == id && vm->devs[i].idx == idx &&
		    vm->devs[i].ops->load)
			return &vm->devs[i];
	return NULL;
}

int vm_devices_load_section(struct vm *vm, uint32_t id, uint32_t idx, struct state_reader *sec,
			    uint64_t *seen, struct hull_err *err)
{
	struct vm_device *d = device_find(vm, id, idx);
	int ret;

	if (!d || (*seen & (1ULL << (d - vm->devs))))
		return hull_err_setx(err, EBADMSG, "device state: %s device 0x%x/%u in this VM",
				     d ? "a second section for" : "no", id, idx);
	*seen |= 1ULL << (d - vm->devs);
	ret = d->ops->load(d->dev, sec);
	if (ret < 0)
		return hull_err_setx(err, -ret, "device state: %s %u: invalid state",
				     d->ops->name, idx);
	return 0;
}

unsigned vm_devices_saved_count(const struct vm *vm)
{
	unsigned n = 0;

	for (unsigned i = 0; i < vm->n_devs; i++)
		n += vm->devs[i].ops->save && vm->devs[i].ops->load;
	return n;
}

int vm_devices_load(struct vm *vm, const uint8_t *buf, size_t len, struct hull_err *err)
{
	struct state_reader r, sec;
	uint32_t id = 0, idx = 0;
	uint64_t seen = 0; /* devs[] indices loaded: at most once each (n_devs < 64) */
	unsigned n = 0;
	int ret;

	ret = state_reader_init(&r, buf, len);
	if (ret < 0)
		return hull_err_setx(err, -ret, "device state: %s",
				     ret == -EPROTONOSUPPORT ? "unknown format version"
							     : "not a hull device-state stream");
	while ((ret = state_next_section(&r, &id, &idx, &sec)) > 0) {
		ret = vm_devices_load_section(vm, id, idx, &sec, &seen, err);
		if (ret < 0)
			return hull_err_prefix(err, "section %u", n);
		n++;
	}
	if (ret < 0)
		return hull_err_setx(err, -ret, "device state: section %u: truncated or corrupt", n);
	return 0;
}
