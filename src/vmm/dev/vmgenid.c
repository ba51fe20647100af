/* The VM generation ID device (vmgenid.h). */
#include "vmm/dev/vmgenid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/alloc.h"
#include "vmm/state.h"
#include "vmm/vm.h"
#include "vmm/x86/layout.h"

struct vmgenid {
	struct vm *vm; /* NULL in unit tests: no interrupt */
	const struct guest_mem *mem;
	bool restore;  /* the VM is a restore (a clone), not a migration's destination */
	uint8_t guid[VMGENID_SIZE];
};

/* A fresh GUID into g and guest memory: an RFC 4122 version 4 one, as Hyper-V's are. */
static int vmgenid_renew(struct vmgenid *g)
{
	if (getrandom(g->guid, sizeof(g->guid), 0) != (ssize_t)sizeof(g->guid))
		return -EIO;
	g->guid[6] = (uint8_t)((g->guid[6] & 0x0f) | 0x40);
	g->guid[8] = (uint8_t)((g->guid[8] & 0x3f) | 0x80);
	return gmem_write(g->mem, LAYOUT_VMGENID, g->guid, sizeof(g->guid));
}

int vmgenid_create(struct vm *vm, struct vmgenid **ret, struct hull_err *err)
{
	struct vmgenid *g = xcalloc(1, sizeof(*g));
	int r;

	g->vm = vm;
	g->mem = &vm->mem;
	g->restore = vm->cfg->restore_dir != NULL;
	r = vmgenid_renew(g);
	if (r < 0) {
		free(g);
		*ret = NULL;
		return hull_err_set(err, -r, "VM generation ID at 0x%llx",
				    (unsigned long long)LAYOUT_VMGENID);
	}
	*ret = g;
	return 0;
}

struct vmgenid *vmgenid_new_test(const struct guest_mem *mem, bool restore)
{
	struct vmgenid *g = xcalloc(1, sizeof(*g));

	g->mem = mem;
	g->restore = restore;
	if (vmgenid_renew(g) < 0)
		abort();
	return g;
}

void vmgenid_free(struct vmgenid *g)
{
	free(g);
}

void vmgenid_get(const struct vmgenid *g, uint8_t out[VMGENID_SIZE])
{
	memcpy(out, g->guid, VMGENID_SIZE);
}

void vmgenid_save(struct vmgenid *g, struct state_writer *w)
{
	state_put_u64(w, LAYOUT_VMGENID);
	state_put_u32(w, VMGENID_GED_GSI);
	state_put_bytes(w, g->guid, sizeof(g->guid));
}

int vmgenid_load(struct vmgenid *g, struct state_reader *r)
{
	uint8_t guid[VMGENID_SIZE];
	uint64_t addr = 0;
	uint32_t gsi = 0;

	if (state_get_u64(r, &addr) < 0 || state_get_u32(r, &gsi) < 0 ||
	    state_get_bytes(r, guid, sizeof(guid)) < 0 || state_reader_done(r) < 0)
		return -EBADMSG;
	/* the guest's ACPI tables (in the saved RAM) name these: another layout cannot work */
	if (addr != LAYOUT_VMGENID || gsi != VMGENID_GED_GSI)
		return -EBADMSG;
	if (!g->restore) {
		/* the same VM moved: it keeps its generation */
		if (gmem_write(g->mem, LAYOUT_VMGENID, guid, sizeof(guid)) < 0)
			return -EBADMSG;
		memcpy(g->guid, guid, sizeof(guid));
		return 0;
	}
	/*
	 * A restore: create() wrote a new GUID over the saved RAM's copy. An edge on the GED's
	 * line (the irqchip's state is loaded: its sections come first) makes the guest read it.
	 */
	if (g->vm) {
		(void)vm_irq_line(g->vm, VMGENID_GED_GSI, true);
		(void)vm_irq_line(g->vm, VMGENID_GED_GSI, false);
	}
	return 0;
}
