#pragma once
/*
 * A VM's devices, as one table of kinds (devices.c, in creation order: serial, RTC and ACPI
 * ports, i8042, PCI bus, virtio-blk per --disk, virtio-rng, virtio-console, virtio-net per
 * --net), each with its ops: how many instances a VM has, create, reset, free, and save/load
 * of the guest-visible state to the state stream (state.h). A new device is one entry in the table (the approach
 * of kvmtool's init lists and Firecracker's device manager). Freeing walks the created
 * devices in reverse.
 */
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct vm;
struct vm_config;
struct state_writer;
struct state_reader;

struct vm_device_ops {
	const char *name;
	uint32_t state_id; /* section id in the state stream; unique in the table */
	/* Instances for this configuration (0: the device is absent). */
	unsigned (*count)(const struct vm_config *cfg);
	/* Create instance idx (KVM VM and event loop exist); 0 or -errno with err set. */
	int (*create)(struct vm *vm, unsigned idx, void **ret, struct hull_err *err);
	void (*reset)(void *dev);  /* NULL: nothing to reset */
	void (*free)(void *dev);
	void (*save)(void *dev, struct state_writer *w);     /* NULL: no guest state */
	int (*load)(void *dev, struct state_reader *r);      /* 0 or -EBADMSG, no change */
	/* After a save and the memory that goes with it: run again (virtio_pci_thaw). NULL: */
	void (*thaw)(void *dev);                             /* the save did not stop it */
	/*
	 * Counters for the API's GET /metrics: put(ctx, name, value) once per counter (names
	 * in snake_case, e.g. "read_bytes"). Called on the event loop thread while the device
	 * runs: read the counters with relaxed atomics. NULL: the device has none.
	 */
	void (*metrics)(void *dev, void (*put)(void *ctx, const char *name, uint64_t value),
			void *ctx);
};

struct vm_device {
	const struct vm_device_ops *ops;
	unsigned idx; /* instance number within its kind */
	void *dev;
};

/* Create every device the configuration asks for, in table order. */
int vm_devices_create(struct vm *vm, struct hull_err *err);
/*
 * A hot-plugged device of kind (its table name) joins the table as instance idx, or leaves it
 * (not freed: the caller frees it). Room for PCIHP_NUM_SLOTS of them was made at creation.
 */
void vm_devices_attach(struct vm *vm, const char *kind, unsigned idx, void *dev);
void vm_devices_detach(struct vm *vm, void *dev);
/* Free them in reverse order of creation. */
void vm_devices_free(struct vm *vm);
/* Reset every device that has a reset (in creation order). */
void vm_devices_reset(struct vm *vm);
/* Append a section per device with state. 0 or the writer's error. */
int vm_devices_save(struct vm *vm, struct state_writer *w);
/* Each saved device runs again (ops->thaw): once guest RAM was written or sent after the save. */
void vm_devices_thaw(struct vm *vm);
/*
 * Load a stream written by vm_devices_save for the same configuration: every section must
 * name a device this VM has (kind and instance), each at most once. 0, or -errno with err
 * naming the device or the stream's defect. Devices loaded before a bad section keep the
 * loaded state: the VM is not started after a failed load.
 */
int vm_devices_load(struct vm *vm, const uint8_t *buf, size_t len, struct hull_err *err);
/* Instance idx of the device kind called name ("virtio-blk"), or NULL when the VM has none. */
void *vm_device_find(struct vm *vm, const char *name, unsigned idx);
/*
 * One section of such a stream (the snapshot reader interleaves them with the arch's):
 * *seen marks the devices loaded so far. 0, or -errno with err naming the device.
 */
int vm_devices_load_section(struct vm *vm, uint32_t id, uint32_t idx, struct state_reader *sec,
			    uint64_t *seen, struct hull_err *err);
/* The number of devices with saved state: the sections a complete stream has for them. */
unsigned vm_devices_saved_count(const struct vm *vm);
/* The device table, for tests. */
const struct vm_device_ops *const *vm_device_table(unsigned *n);
