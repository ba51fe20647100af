/*
 * MSI routing for irqfds (irq.c) and the --disk format option, checked as data: no /dev/kvm
 * needed. The same table pushed to a real KVM is test-kvm.c (run where KVM works).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/irq.h"
#include "vmm/vmm.h"

static struct irq_routing rt;

static const struct kvm_irq_routing_entry *find(const struct irq_routing *r, uint32_t gsi,
						uint32_t type, uint32_t chip)
{
	for (uint32_t i = 0; i < r->n; i++)
		if (r->e[i].gsi == gsi && r->e[i].type == type &&
		    (type != KVM_IRQ_ROUTING_IRQCHIP || r->e[i].u.irqchip.irqchip == chip))
			return &r->e[i];
	return NULL;
}

static void test_defaults(void **state)
{
	const struct kvm_irq_routing_entry *e;

	memset(&rt, 0xff, sizeof(rt));
	irq_routing_defaults(&rt);
	/* 16 PIC routes + 24 IOAPIC routes, as KVM's own default table */
	assert_int_equal(rt.n, 40);
	assert_int_equal(rt.next_gsi, IRQ_ISA_PINS);
	e = find(&rt, 4, KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQCHIP_PIC_MASTER);
	assert_non_null(e);
	assert_int_equal(e->u.irqchip.pin, 4);
	e = find(&rt, 12, KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQCHIP_PIC_SLAVE);
	assert_non_null(e);
	assert_int_equal(e->u.irqchip.pin, 4);
	e = find(&rt, 20, KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQCHIP_IOAPIC);
	assert_non_null(e);
	assert_int_equal(e->u.irqchip.pin, 20);
	assert_null(find(&rt, 20, KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQCHIP_PIC_SLAVE));
}

static void test_msi_routes(void **state)
{
	const struct kvm_irq_routing_entry *e;
	uint32_t g1, g2, g;

	irq_routing_defaults(&rt);
	assert_int_equal(irq_routing_add_msi(&rt, &g1), 0);
	assert_int_equal(irq_routing_add_msi(&rt, &g2), 0);
	assert_int_equal(g1, 24);
	assert_int_equal(g2, 25);
	assert_int_equal(irq_routing_set_msi(&rt, g2, 0x1fee01000ULL, 0x4031), 0);
	e = find(&rt, g2, KVM_IRQ_ROUTING_MSI, 0);
	assert_non_null(e);
	assert_int_equal(e->u.msi.address_lo, 0xfee01000U);
	assert_int_equal(e->u.msi.address_hi, 1);
	assert_int_equal(e->u.msi.data, 0x4031);
	e = find(&rt, g1, KVM_IRQ_ROUTING_MSI, 0);
	assert_int_equal(e->u.msi.data, 0); /* untouched */
	/* an ISA GSI has no MSI route to change */
	assert_int_equal(irq_routing_set_msi(&rt, 4, 0xfee00000, 1), -ENOENT);
	assert_int_equal(irq_routing_set_msi(&rt, 99, 0xfee00000, 1), -ENOENT);
	while (rt.n < IRQ_MAX_ROUTES)
		assert_int_equal(irq_routing_add_msi(&rt, &g), 0);
	assert_int_equal(irq_routing_add_msi(&rt, &g), -ENOSPC);
	assert_int_equal(rt.n, IRQ_MAX_ROUTES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_msi_routes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
