#pragma once
/*
 * Port I/O and MMIO dispatch. Ranges are registered while the VM is being built and never
 * change afterwards, so vCPU threads look them up without a lock; each device serialises
 * its own state.
 */
#include <stdbool.h>
#include <stdint.h>

#define IO_BUS_MAX 32

/* off is relative to the range's base; data holds len (1..8) bytes, little-endian. */
typedef void (*io_handler_fn)(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
			      bool is_write);

struct io_range {
	uint64_t base;
	uint64_t len;
	io_handler_fn fn;
	void *opaque;
};

struct io_bus {
	struct io_range r[IO_BUS_MAX];
	unsigned n;
};

/* 0, -EEXIST when the range overlaps another, -ENOSPC when the bus is full, -EINVAL. */
int io_bus_add(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn fn, void *opaque);

/*
 * Deliver an access. Returns false when no device claims addr; the caller then ignores a
 * write and reads all ones (what an empty ISA/PCI bus returns).
 */
bool io_bus_dispatch(const struct io_bus *bus, uint64_t addr, uint8_t *data, uint32_t len,
		     bool is_write);
