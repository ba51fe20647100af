#include "vmm/irq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "vmm/x86/arch.h"

void irq_routing_defaults(struct irq_routing *r)
{
	/* The platform's interrupt controllers (x86: PIC and IOAPIC routes of GSI 0-23). */
	r->n = arch_irq_default_routes(r->e, IRQ_MAX_ROUTES, &r->next_gsi);
}

int irq_routing_add_msi(struct irq_routing *r, uint32_t *ret_gsi)
{
	if (r->n >= IRQ_MAX_ROUTES)
		return -ENOSPC;
	r->e[r->n++] = (struct kvm_irq_routing_entry){
		.gsi = r->next_gsi,
		.type = KVM_IRQ_ROUTING_MSI,
	};
	*ret_gsi = r->next_gsi++;
	return 0;
}

int irq_routing_set_msi(struct irq_routing *r, uint32_t gsi, uint64_t addr, uint32_t data)
{
	for (uint32_t i = 0; i < r->n; i++) {
		struct kvm_irq_routing_entry *e = &r->e[i];

		if (e->gsi != gsi || e->type != KVM_IRQ_ROUTING_MSI)
			continue;
		e->u.msi.address_lo = (uint32_t)addr;
		e->u.msi.address_hi = (uint32_t)(addr >> 32);
		e->u.msi.data = data;
		return 0;
	}
	return -ENOENT;
}

/* Push r's table to KVM. Lock held. */
static int irq_routing_push(struct irq_routing *r, int vm_fd)
{
	size_t sz = sizeof(struct kvm_irq_routing) + r->n * sizeof(struct kvm_irq_routing_entry);
	struct kvm_irq_routing *t;
	int ret = 0;

	/* The I/O thread calls this only when a guest changes an MSI-X message: rare. */
	t = malloc(sz);
	if (!t)
		return -ENOMEM;
	memset(t, 0, sizeof(*t));
	t->nr = r->n;
	memcpy(t->entries, r->e, r->n * sizeof(struct kvm_irq_routing_entry));
	if (ioctl(vm_fd, KVM_SET_GSI_ROUTING, t) < 0)
		ret = -errno;
	free(t);
	return ret;
}

int irq_routing_init(struct irq_routing *r, int kvm_fd, int vm_fd, bool no_irqfd,
		     struct hull_err *err)
{
	int ret;

	memset(r, 0, sizeof(*r));
	ret = pthread_mutex_init(&r->lock, NULL);
	if (ret)
		return hull_err_set(err, ret, "irq routing lock");
	irq_routing_defaults(r);
	if (no_irqfd) {
		log_debug("vmm: irqfd disabled (--no-irqfd)");
		return 0;
	}
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_ROUTING) <= 0 ||
	    ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD) <= 0) {
		log_debug("vmm: KVM lacks irq routing or irqfd: MSI through KVM_SIGNAL_MSI");
		return 0;
	}
	ret = irq_routing_push(r, vm_fd);
	if (ret < 0) {
		log_debug("vmm: KVM_SET_GSI_ROUTING: %s: MSI through KVM_SIGNAL_MSI",
			  strerror(-ret));
		return 0;
	}
	r->enabled = true;
	return 0;
}

void irq_routing_release(struct irq_routing *r)
{
	pthread_mutex_destroy(&r->lock);
}

int irq_msi_vector_new(struct irq_routing *r, int vm_fd, uint32_t *ret_gsi)
{
	cleanup_close int fd = -1;
	struct kvm_irqfd irqfd = { 0 };
	uint32_t gsi;
	int ret;

	if (!r->enabled)
		return -ENOTSUP;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&r->lock);
	ret = irq_routing_add_msi(r, &gsi);
	if (ret == 0)
		ret = irq_routing_push(r, vm_fd);
	pthread_mutex_unlock(&r->lock);
	if (ret < 0)
		return ret;
	irqfd.fd = (uint32_t)fd;
	irqfd.gsi = gsi;
	if (ioctl(vm_fd, KVM_IRQFD, &irqfd) < 0)
		return -errno;
	*ret_gsi = gsi;
	return steal_fd(&fd);
}

int irq_msi_vector_route(struct irq_routing *r, int vm_fd, uint32_t gsi, uint64_t addr,
			 uint32_t data)
{
	int ret;

	pthread_mutex_lock(&r->lock);
	ret = irq_routing_set_msi(r, gsi, addr, data);
	if (ret == 0)
		ret = irq_routing_push(r, vm_fd);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq_msi_vector_fire(int fd)
{
	uint64_t one = 1;

	return write(fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}
