#include "vmm/bus.h"

#include <errno.h>

int io_bus_add(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn fn, void *opaque)
{
	if (len == 0 || base + len < base || !fn)
		return -EINVAL;
	for (unsigned i = 0; i < bus->n; i++) {
		const struct io_range *r = &bus->r[i];

		if (base < r->base + r->len && r->base < base + len)
			return -EEXIST;
	}
	if (bus->n >= IO_BUS_MAX)
		return -ENOSPC;
	bus->r[bus->n++] = (struct io_range){ .base = base, .len = len, .fn = fn, .opaque = opaque };
	return 0;
}

bool io_bus_dispatch(const struct io_bus *bus, uint64_t addr, uint8_t *data, uint32_t len,
		     bool is_write)
{
	for (unsigned i = 0; i < bus->n; i++) {
		const struct io_range *r = &bus->r[i];

		if (addr >= r->base && addr - r->base < r->len) {
			/* An access straddling the end goes to the device, which checks off+len. */
			r->fn(r->opaque, addr - r->base, data, len, is_write);
			return true;
		}
	}
	return false;
}
