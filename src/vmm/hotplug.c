/* ACPI PCI hot-plug controller (hotplug.h). */
#include "vmm/hotplug.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/alloc.h"
#include "vmm/state.h"
#include "vmm/vm.h"

struct pcihp {
	struct vm *vm; /* NULL in unit tests: no interrupt */
	pthread_mutex_t lock;
	int eject_efd;
	/* guest-visible */
	uint32_t present, up, down;
	/* hull's bookkeeping: being built, ejected by the guest and not taken yet */
	uint32_t reserved, ejected;
};

static struct pcihp *pcihp_alloc(struct vm *vm)
{
	struct pcihp *h = xcalloc(1, sizeof(*h));

	h->vm = vm;
	h->eject_efd = -1;
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

/* An edge on the GED's line: its _EVT calls PCNT, which reads UP and DOWN. */
static void pcihp_pulse(struct pcihp *h)
{
	if (!h->vm)
		return;
	(void)vm_irq_line(h->vm, PCIHP_GSI, true);
	(void)vm_irq_line(h->vm, PCIHP_GSI, false);
}

int pcihp_create(struct vm *vm, struct pcihp **ret, struct hull_err *err)
{
	struct pcihp *h = pcihp_alloc(vm);
	int r;

	*ret = NULL;
	h->eject_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->eject_efd < 0) {
		r = hull_err_set(err, errno, "PCI hot-plug: eventfd");
		pcihp_free(h);
		return r;
	}
	r = io_bus_add(&vm->pio, PCIHP_PORT, PCIHP_PORT_LEN, pcihp_io, h);
	if (r < 0) {
		pcihp_free(h);
		return hull_err_set(err, -r, "PCI hot-plug: ports 0x%x", PCIHP_PORT);
	}
	*ret = h;
	return 0;
}

struct pcihp *pcihp_new_test(void)
{
	struct pcihp *h = pcihp_alloc(NULL);

	h->eject_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return h;
}

void pcihp_free(struct pcihp *h)
{
	if (!h)
		return;
	if (h->eject_efd >= 0)
		(void)close(h->eject_efd);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

void pcihp_reset(struct pcihp *h)
{
	pthread_mutex_lock(&h->lock);
	h->up = h->down = 0;
	pthread_mutex_unlock(&h->lock);
}

static uint32_t slot_bit(unsigned slot)
{
	return slot < 32 ? (1U << slot) & PCIHP_SLOT_MASK : 0;
}

int pcihp_slot_reserve_at(struct pcihp *h, unsigned slot)
{
	uint32_t bit = slot_bit(slot);
	int r = 0;

	if (!bit)
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	if ((h->reserved | h->present | h->ejected) & bit)
		r = -EBUSY;
	else
		h->reserved |= bit;
	pthread_mutex_unlock(&h->lock);
	return r;
}

int pcihp_plug_quiet(struct pcihp *h, unsigned slot)
{
	uint32_t bit = slot_bit(slot);
	int r = 0;

	pthread_mutex_lock(&h->lock);
	if (!bit || !(h->reserved & bit)) {
		r = -EINVAL;
	} else {
		h->reserved &= ~bit;
		h->present |= bit;
	}
	pthread_mutex_unlock(&h->lock);
	return r;
}

int pcihp_slot_reserve(struct pcihp *h)
{
	int slot = -ENOSPC;

	pthread_mutex_lock(&h->lock);
	for (unsigned s = PCIHP_FIRST_SLOT; s < PCIHP_FIRST_SLOT + PCIHP_NUM_SLOTS; s++)
		if (!((h->reserved | h->present | h->ejected) & (1U << s))) {
			h->reserved |= 1U << s;
			slot = (int)s;
			break;
		}
	pthread_mutex_unlock(&h->lock);
	return slot;
}


void pcihp_slot_release(struct pcihp *h, unsigned slot)
{
	pthread_mutex_lock(&h->lock);
	h->reserved &= ~slot_bit(slot);
	pthread_mutex_unlock(&h->lock);
}

int pcihp_plug(struct pcihp *h, unsigned slot)
{
	uint32_t bit = slot_bit(slot);

	pthread_mutex_lock(&h->lock);
	if (!bit || !(h->reserved & bit)) {
		pthread_mutex_unlock(&h->lock);
		return -EINVAL;
	}
	h->reserved &= ~bit;
	h->present |= bit;
	h->up |= bit;
	pthread_mutex_unlock(&h->lock);
	pcihp_pulse(h);
	return 0;
}

int pcihp_unplug(struct pcihp *h, unsigned slot)
{
	uint32_t bit = slot_bit(slot);
	int r = 0;

	pthread_mutex_lock(&h->lock);
	if (!bit || !(h->present & bit))
		r = -ENOENT;
	else if (h->down & bit)
		r = -EALREADY;
	else
		h->down |= bit;
	pthread_mutex_unlock(&h->lock);
	if (r == 0)
		pcihp_pulse(h);
	return r;
}

uint32_t pcihp_take_ejected(struct pcihp *h)
{
	uint64_t v;
	uint32_t e;

	if (h->eject_efd >= 0)
		(void)!read(h->eject_efd, &v, sizeof(v));
	pthread_mutex_lock(&h->lock);
	e = h->ejected;
	h->ejected = 0;
	pthread_mutex_unlock(&h->lock);
	return e;
}

uint32_t pcihp_present(struct pcihp *h)
{
	uint32_t p;

	pthread_mutex_lock(&h->lock);
	p = h->present | h->reserved | h->ejected;
	pthread_mutex_unlock(&h->lock);
	return p;
}

uint32_t pcihp_removing(struct pcihp *h)
{
	uint32_t d;

	pthread_mutex_lock(&h->lock);
	d = h->down;
	pthread_mutex_unlock(&h->lock);
	return d;
}

int pcihp_eject_fd(const struct pcihp *h)
{
	return h->eject_efd;
}

/* The guest's _EJ0: only slots with a device; the device itself is freed on the loop. */
static void pcihp_eject(struct pcihp *h, uint32_t bits)
{
	uint64_t one = 1;

	bits &= h->present;
	if (!bits)
		return;
	h->present &= ~bits;
	h->up &= ~bits;
	h->down &= ~bits;
	h->ejected |= bits;
	if (h->eject_efd >= 0)
		(void)!write(h->eject_efd, &one, sizeof(one));
}

void pcihp_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pcihp *h = opaque;
	uint32_t v = 0xffffffffU;

	if (len != 4 || (off & 3) || off >= PCIHP_PORT_LEN) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if (is_write) {
		if (off == PCIHP_REG_EJECT) {
			memcpy(&v, data, 4);
			pcihp_eject(h, le32toh(v));
		}
	} else if (off == PCIHP_REG_UP) {
		v = h->up;
		h->up = 0;
	} else if (off == PCIHP_REG_DOWN) {
		v = h->down;
	} else if (off == PCIHP_REG_PRESENT) {
		v = h->present;
	}
	pthread_mutex_unlock(&h->lock);
	if (!is_write) {
		v = htole32(v);
		memcpy(data, &v, 4);
	}
}

void pcihp_save(struct pcihp *h, struct state_writer *w)
{
	pthread_mutex_lock(&h->lock);
	state_put_u32(w, h->present);
	state_put_u32(w, h->up);
	state_put_u32(w, h->down);
	pthread_mutex_unlock(&h->lock);
}

int pcihp_load(struct pcihp *h, struct state_reader *r)
{
	uint32_t present = 0, up = 0, down = 0;
	bool pending;

	if (state_get_u32(r, &present) < 0 || state_get_u32(r, &up) < 0 ||
	    state_get_u32(r, &down) < 0 || state_reader_done(r) < 0)
		return -EBADMSG;
	if ((present & ~PCIHP_SLOT_MASK) || (up & ~present) || (down & ~present))
		return -EBADMSG;
	pthread_mutex_lock(&h->lock);
	if (present != h->present) {
		pthread_mutex_unlock(&h->lock);
		return -EBADMSG;
	}
	h->up = up;
	h->down = down;
	pending = up || down;
	pthread_mutex_unlock(&h->lock);
	if (pending)
		pcihp_pulse(h);
	return 0;
}
