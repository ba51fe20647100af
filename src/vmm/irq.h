#pragma once
/*
 * Interrupt routing for MSI-X through irqfds: each device vector gets a GSI whose KVM route
 * is an MSI message and an eventfd bound to it with KVM_IRQFD, so that a device completing a
 * request on the I/O thread injects its interrupt with a write() on the eventfd instead of a
 * KVM_SIGNAL_MSI ioctl. KVM_SET_GSI_ROUTING replaces the whole table, so the table also holds
 * the in-kernel PIC/IOAPIC routes of the ISA lines (GSI 0-23) that KVM installs by default.
 *
 * Masking stays in the device (virtio/pci.c decides whether a vector fires); a vector whose
 * message changed is re-routed lazily, on its next interrupt (one ioctl per change, not per
 * interrupt).
 */
#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

#define IRQ_ISA_PINS 24  /* IOAPIC pins: GSIs 0-23; MSI GSIs follow */
#define IRQ_MAX_ROUTES 128

struct irq_routing {
	pthread_mutex_t lock;
	bool enabled;    /* KVM has irq routing and irqfd: MSI goes through eventfds */
	uint32_t n;      /* entries used in e */
	uint32_t next_gsi;
	struct kvm_irq_routing_entry e[IRQ_MAX_ROUTES];
};

/* Fill r with the default ISA routes (PIC for GSI 0-15, IOAPIC for 0-23). Pure. */
void irq_routing_defaults(struct irq_routing *r);
/*
 * Add an MSI route for a new GSI (message 0/0 until irq_routing_set_msi) to r; the GSI in
 * *ret_gsi. -ENOSPC when the table is full. Pure (no KVM).
 */
int irq_routing_add_msi(struct irq_routing *r, uint32_t *ret_gsi);
/* Set the message of gsi's MSI route in r; -ENOENT if gsi has no MSI route. Pure. */
int irq_routing_set_msi(struct irq_routing *r, uint32_t gsi, uint64_t addr, uint32_t data);

/*
 * Set up vm_fd's routing table with the defaults. When KVM lacks KVM_CAP_IRQ_ROUTING or
 * KVM_CAP_IRQFD, or refuses the table, leaves r->enabled false (devices then fall back to
 * KVM_SIGNAL_MSI) and returns 0; -errno with err set only for a broken mutex/table.
 */
int irq_routing_init(struct irq_routing *r, int kvm_fd, int vm_fd, bool no_irqfd,
		     struct hull_err *err);
void irq_routing_release(struct irq_routing *r);

/*
 * A new MSI vector: GSI, route and an eventfd bound to it with KVM_IRQFD. Returns the
 * eventfd (the caller owns it) and the GSI in *ret_gsi, or -errno (data plane: no err).
 */
int irq_msi_vector_new(struct irq_routing *r, int vm_fd, uint32_t *ret_gsi);
/* Route gsi to the MSI message (addr, data) and push the table to KVM; 0 or -errno. */
int irq_msi_vector_route(struct irq_routing *r, int vm_fd, uint32_t gsi, uint64_t addr,
			 uint32_t data);
/* Inject: one eventfd write. 0 or -errno. */
int irq_msi_vector_fire(int fd);
