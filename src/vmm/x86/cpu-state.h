#pragma once
/*
 * x86 vCPU and in-kernel platform state for snapshots (snapshot.c): what KVM holds of a
 * vCPU (registers, special registers, MSRs, FPU/XSAVE, XCRs, LAPIC, pending events, debug
 * registers, MP state) and of the VM (PIC master and slave, IOAPIC, PIT, KVM clock), as
 * sections of the state stream (state.h).
 *
 * A section's payload is a section version (u32) and records: tag (u32), length (u32),
 * bytes. Most records are KVM's own structs, byte for byte (the x86-64 KVM ABI is stable:
 * what Firecracker stores too); the decoder checks every length against the struct's size
 * and the bounds below, refuses unknown tags, duplicates and missing records, and never
 * allocates. Decoding is apart from the ioctls so that a unit test needs no /dev/kvm.
 */
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

struct state_writer;
struct state_reader;

#define X86_STATE_VCPU 0x80U     /* section id; instance = vCPU index */
#define X86_STATE_PLATFORM 0x81U /* section id; instance 0 */
#define X86_STATE_VERSION 1U
#define X86_XSAVE_MAX (64U << 10) /* KVM_GET_XSAVE2's size: 4 KiB, ~11 KiB with AMX */
#define X86_MSRS_MAX 1024U        /* KVM_GET_MSR_INDEX_LIST gives a few hundred */

enum x86_vcpu_rec {
	X86_REC_REGS = 1,
	X86_REC_SREGS,
	X86_REC_SREGS2,
	X86_REC_FPU,
	X86_REC_XSAVE,
	X86_REC_XCRS,
	X86_REC_LAPIC,
	X86_REC_EVENTS,
	X86_REC_DEBUGREGS,
	X86_REC_MP_STATE,
	X86_REC_MSRS,
	X86_REC_VCPU_COUNT,
};

enum x86_platform_rec {
	X86_REC_PIC_MASTER = 1,
	X86_REC_PIC_SLAVE,
	X86_REC_IOAPIC,
	X86_REC_PIT2,
	X86_REC_CLOCK,
	X86_REC_PLATFORM_COUNT,
};

struct x86_vcpu_state {
	uint32_t have; /* 1 << enum x86_vcpu_rec for each record present */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_sregs2 sregs2;
	struct kvm_fpu fpu;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debugregs;
	struct kvm_mp_state mp_state;
	uint32_t n_msrs;
	struct kvm_msr_entry msrs[X86_MSRS_MAX];
	uint32_t xsave_len;
	uint8_t xsave[X86_XSAVE_MAX] __attribute__((aligned(64)));
};

struct x86_platform_state {
	struct kvm_irqchip chip[3]; /* KVM_IRQCHIP_PIC_MASTER, _PIC_SLAVE, _IOAPIC */
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
};

/* Append s as one section (id X86_STATE_VCPU, instance idx); errors stay in w->err. */
void x86_vcpu_state_encode(const struct x86_vcpu_state *s, unsigned idx, struct state_writer *w);
/*
 * Decode a section's payload into s: 0, -EPROTONOSUPPORT (a section version from the
 * future), -EBADMSG (truncated, an unknown, repeated or missing record, a bad length).
 */
int x86_vcpu_state_decode(struct state_reader *r, struct x86_vcpu_state *s);
void x86_platform_state_encode(const struct x86_platform_state *s, struct state_writer *w);
int x86_platform_state_decode(struct state_reader *r, struct x86_platform_state *s);

/* From and to KVM (the vCPU must not be in KVM_RUN). 0 or -errno with err naming the ioctl. */
int x86_vcpu_state_get(int kvm_fd, int vm_fd, int vcpu_fd, struct x86_vcpu_state *s,
		       struct hull_err *err);
int x86_vcpu_state_set(int kvm_fd, int vm_fd, int vcpu_fd, const struct x86_vcpu_state *s,
		       struct hull_err *err);
int x86_platform_state_get(int vm_fd, struct x86_platform_state *s, struct hull_err *err);
int x86_platform_state_set(int vm_fd, const struct x86_platform_state *s, struct hull_err *err);
