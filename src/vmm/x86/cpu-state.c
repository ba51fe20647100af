/* x86 vCPU and platform state: the stream encoding and the KVM ioctls (cpu-state.h). */
#include "vmm/x86/cpu-state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/cleanup.h"
#include "vmm/state.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "vmm/x86/arch.h"

static void rec_put(struct state_writer *w, uint32_t tag, const void *p, size_t len)
{
	state_put_u32(w, tag);
	state_put_u32(w, (uint32_t)len);
	state_put_bytes(w, p, len);
}

void x86_vcpu_state_encode(const struct x86_vcpu_state *s, unsigned idx, struct state_writer *w)
{
	state_begin(w, X86_STATE_VCPU, idx);
	state_put_u32(w, X86_STATE_VERSION);
	rec_put(w, X86_REC_MP_STATE, &s->mp_state, sizeof(s->mp_state));
	rec_put(w, X86_REC_REGS, &s->regs, sizeof(s->regs));
	if (s->have & (1U << X86_REC_SREGS2))
		rec_put(w, X86_REC_SREGS2, &s->sregs2, sizeof(s->sregs2));
	else
		rec_put(w, X86_REC_SREGS, &s->sregs, sizeof(s->sregs));
	if (s->have & (1U << X86_REC_XSAVE))
		rec_put(w, X86_REC_XSAVE, s->xsave, s->xsave_len);
	else
		rec_put(w, X86_REC_FPU, &s->fpu, sizeof(s->fpu));
	if (s->have & (1U << X86_REC_XCRS))
		rec_put(w, X86_REC_XCRS, &s->xcrs, sizeof(s->xcrs));
	if (s->have & (1U << X86_REC_DEBUGREGS))
		rec_put(w, X86_REC_DEBUGREGS, &s->debugregs, sizeof(s->debugregs));
	rec_put(w, X86_REC_LAPIC, &s->lapic, sizeof(s->lapic));
	rec_put(w, X86_REC_EVENTS, &s->events, sizeof(s->events));
	rec_put(w, X86_REC_MSRS, s->msrs, (size_t)s->n_msrs * sizeof(s->msrs[0]));
	state_end(w);
}

/* Where a fixed-size record lands in s, and its size; NULL for the variable ones. */
static void *vcpu_rec_slot(struct x86_vcpu_state *s, uint32_t tag, size_t *size)
{
	switch (tag) {
	case X86_REC_REGS: *size = sizeof(s->regs); return &s->regs;
	case X86_REC_SREGS: *size = sizeof(s->sregs); return &s->sregs;
	case X86_REC_SREGS2: *size = sizeof(s->sregs2); return &s->sregs2;
	case X86_REC_FPU: *size = sizeof(s->fpu); return &s->fpu;
	case X86_REC_XCRS: *size = sizeof(s->xcrs); return &s->xcrs;
	case X86_REC_LAPIC: *size = sizeof(s->lapic); return &s->lapic;
	case X86_REC_EVENTS: *size = sizeof(s->events); return &s->events;
	case X86_REC_DEBUGREGS: *size = sizeof(s->debugregs); return &s->debugregs;
	case X86_REC_MP_STATE: *size = sizeof(s->mp_state); return &s->mp_state;
	default: return NULL;
	}
}

static int vcpu_rec_get(struct state_reader *r, struct x86_vcpu_state *s, uint32_t tag,
			uint32_t len)
{
	size_t size = 0;
	void *slot;

	if (tag == X86_REC_XSAVE) {
		/* at least the legacy 4 KiB struct kvm_xsave: KVM_SET_XSAVE reads that much */
		if (len < sizeof(struct kvm_xsave) || len > X86_XSAVE_MAX || len % 4)
			return -EBADMSG;
		s->xsave_len = len;
		return state_get_bytes(r, s->xsave, len);
	}
	if (tag == X86_REC_MSRS) {
		if (len % sizeof(s->msrs[0]) || len / sizeof(s->msrs[0]) > X86_MSRS_MAX)
			return -EBADMSG;
		s->n_msrs = (uint32_t)(len / sizeof(s->msrs[0]));
		return state_get_bytes(r, s->msrs, len);
	}
	slot = vcpu_rec_slot(s, tag, &size);
	if (!slot || len != size)
		return -EBADMSG;
	return state_get_bytes(r, slot, len);
}

/* Records each kind of state needs: exactly one of each pair, all of the rest. */
static bool vcpu_recs_complete(uint32_t have)
{
	const uint32_t one_of[][2] = { { X86_REC_SREGS, X86_REC_SREGS2 },
				       { X86_REC_FPU, X86_REC_XSAVE } };
	const uint32_t need = 1U << X86_REC_REGS | 1U << X86_REC_LAPIC | 1U << X86_REC_EVENTS |
			      1U << X86_REC_MP_STATE | 1U << X86_REC_MSRS;

	if ((have & need) != need)
		return false;
	for (size_t i = 0; i < sizeof(one_of) / sizeof(one_of[0]); i++)
		if (!!(have & (1U << one_of[i][0])) == !!(have & (1U << one_of[i][1])))
			return false;
	return true;
}

int x86_vcpu_state_decode(struct state_reader *r, struct x86_vcpu_state *s)
{
	uint32_t version = 0, tag = 0, len = 0;
	int ret;

	memset(s, 0, offsetof(struct x86_vcpu_state, xsave));
	if (state_get_u32(r, &version) < 0)
		return -EBADMSG;
	if (version != X86_STATE_VERSION)
		return version > X86_STATE_VERSION ? -EPROTONOSUPPORT : -EBADMSG;
	while (r->pos < r->len) {
		if (state_get_u32(r, &tag) < 0 || state_get_u32(r, &len) < 0)
			return -EBADMSG;
		if (tag == 0 || tag >= X86_REC_VCPU_COUNT || (s->have & (1U << tag)) ||
		    len > r->len - r->pos)
			return -EBADMSG;
		ret = vcpu_rec_get(r, s, tag, len);
		if (ret < 0)
			return ret;
		s->have |= 1U << tag;
	}
	return vcpu_recs_complete(s->have) ? 0 : -EBADMSG;
}

void x86_platform_state_encode(const struct x86_platform_state *s, struct state_writer *w)
{
	state_begin(w, X86_STATE_PLATFORM, 0);
	state_put_u32(w, X86_STATE_VERSION);
	rec_put(w, X86_REC_PIC_MASTER, &s->chip[0], sizeof(s->chip[0]));
	rec_put(w, X86_REC_PIC_SLAVE, &s->chip[1], sizeof(s->chip[1]));
	rec_put(w, X86_REC_IOAPIC, &s->chip[2], sizeof(s->chip[2]));
	rec_put(w, X86_REC_PIT2, &s->pit, sizeof(s->pit));
	rec_put(w, X86_REC_CLOCK, &s->clock, sizeof(s->clock));
	state_end(w);
}

int x86_platform_state_decode(struct state_reader *r, struct x86_platform_state *s)
{
	uint32_t version = 0, tag = 0, len = 0, have = 0;
	void *slot;
	size_t size;

	memset(s, 0, sizeof(*s));
	if (state_get_u32(r, &version) < 0)
		return -EBADMSG;
	if (version != X86_STATE_VERSION)
		return version > X86_STATE_VERSION ? -EPROTONOSUPPORT : -EBADMSG;
	while (r->pos < r->len) {
		if (state_get_u32(r, &tag) < 0 || state_get_u32(r, &len) < 0)
			return -EBADMSG;
		if (tag == 0 || tag >= X86_REC_PLATFORM_COUNT || (have & (1U << tag)))
			return -EBADMSG;
		if (tag == X86_REC_PIT2) {
			slot = &s->pit;
			size = sizeof(s->pit);
		} else if (tag == X86_REC_CLOCK) {
			slot = &s->clock;
			size = sizeof(s->clock);
		} else {
			slot = &s->chip[tag - X86_REC_PIC_MASTER];
			size = sizeof(s->chip[0]);
		}
		if (len != size || state_get_bytes(r, slot, len) < 0)
			return -EBADMSG;
		have |= 1U << tag;
	}
	if (have != ((1U << X86_REC_PLATFORM_COUNT) - 2))
		return -EBADMSG;
	/* the chip ids are KVM's to check, but a swapped pair is a corrupt stream */
	for (uint32_t i = 0; i < 3; i++)
		if (s->chip[i].chip_id != i)
			return -EBADMSG;
	return 0;
}

/*
 * KVM_GET_MSR_INDEX_LIST, then every MSR of it that KVM_GET_MSRS reads on this vCPU: the
 * list names MSRs the CPU may lack, and KVM_GET_MSRS stops at the first it cannot read.
 */
static int msrs_get(int kvm_fd, int vcpu_fd, struct x86_vcpu_state *s, struct hull_err *err)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };
	cleanup_free struct kvm_msr_list *list = NULL;
	cleanup_free struct kvm_msrs *buf = NULL;
	uint32_t n, i = 0;

	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return hull_err_set(err, errno, "KVM_GET_MSR_INDEX_LIST");
	n = probe.nmsrs;
	if (n > X86_MSRS_MAX)
		return hull_err_setx(err, E2BIG, "KVM_GET_MSR_INDEX_LIST: %u MSRs (at most %u)", n,
				     X86_MSRS_MAX);
	list = calloc(1, sizeof(*list) + n * sizeof(uint32_t));
	buf = calloc(1, sizeof(*buf) + n * sizeof(struct kvm_msr_entry));
	if (!list || !buf)
		return hull_err_set(err, ENOMEM, "MSR list");
	list->nmsrs = n;
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0)
		return hull_err_set(err, errno, "KVM_GET_MSR_INDEX_LIST");
	s->n_msrs = 0;
	while (i < list->nmsrs) {
		int got;

		buf->nmsrs = list->nmsrs - i;
		for (uint32_t k = 0; k < buf->nmsrs; k++)
			buf->entries[k] = (struct kvm_msr_entry){ .index = list->indices[i + k] };
		got = ioctl(vcpu_fd, KVM_GET_MSRS, buf);
		if (got < 0)
			return hull_err_set(err, errno, "KVM_GET_MSRS");
		memcpy(&s->msrs[s->n_msrs], buf->entries, (size_t)got * sizeof(buf->entries[0]));
		s->n_msrs += (uint32_t)got;
		i += (uint32_t)got + 1; /* skip the one KVM could not read */
	}
	return 0;
}

static int xsave_get(int vm_fd, int vcpu_fd, struct x86_vcpu_state *s, struct hull_err *err)
{
	int size = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	if (size > 0) {
		if ((unsigned)size > X86_XSAVE_MAX || (unsigned)size < sizeof(struct kvm_xsave))
			return hull_err_setx(err, E2BIG, "KVM_CAP_XSAVE2: %d bytes", size);
		if (ioctl(vcpu_fd, KVM_GET_XSAVE2, s->xsave) < 0)
			return hull_err_set(err, errno, "KVM_GET_XSAVE2");
		s->xsave_len = (uint32_t)size;
	} else if (ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0) {
		if (ioctl(vcpu_fd, KVM_GET_XSAVE, s->xsave) < 0)
			return hull_err_set(err, errno, "KVM_GET_XSAVE");
		s->xsave_len = sizeof(struct kvm_xsave);
	} else {
		if (ioctl(vcpu_fd, KVM_GET_FPU, &s->fpu) < 0)
			return hull_err_set(err, errno, "KVM_GET_FPU");
		s->have |= 1U << X86_REC_FPU;
		return 0;
	}
	s->have |= 1U << X86_REC_XSAVE;
	return 0;
}

int x86_vcpu_state_get(int kvm_fd, int vm_fd, int vcpu_fd, struct x86_vcpu_state *s,
		       struct hull_err *err)
{
	bool sregs2 = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SREGS2) > 0;
	int r;

	memset(s, 0, offsetof(struct x86_vcpu_state, xsave));
	/* MP state first: KVM_GET_MP_STATE handles pending INIT/SIPI, which changes the rest. */
	if (ioctl(vcpu_fd, KVM_GET_MP_STATE, &s->mp_state) < 0)
		return hull_err_set(err, errno, "KVM_GET_MP_STATE");
	if (ioctl(vcpu_fd, KVM_GET_REGS, &s->regs) < 0)
		return hull_err_set(err, errno, "KVM_GET_REGS");
	if (sregs2 ? ioctl(vcpu_fd, KVM_GET_SREGS2, &s->sregs2) < 0
		   : ioctl(vcpu_fd, KVM_GET_SREGS, &s->sregs) < 0)
		return hull_err_set(err, errno, sregs2 ? "KVM_GET_SREGS2" : "KVM_GET_SREGS");
	s->have |= 1U << X86_REC_MP_STATE | 1U << X86_REC_REGS |
		   1U << (sregs2 ? X86_REC_SREGS2 : X86_REC_SREGS);
	r = xsave_get(vm_fd, vcpu_fd, s, err);
	if (r < 0)
		return r;
	if (ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0) {
		if (ioctl(vcpu_fd, KVM_GET_XCRS, &s->xcrs) < 0)
			return hull_err_set(err, errno, "KVM_GET_XCRS");
		s->have |= 1U << X86_REC_XCRS;
	}
	if (ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DEBUGREGS) > 0) {
		if (ioctl(vcpu_fd, KVM_GET_DEBUGREGS, &s->debugregs) < 0)
			return hull_err_set(err, errno, "KVM_GET_DEBUGREGS");
		s->have |= 1U << X86_REC_DEBUGREGS;
	}
	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &s->lapic) < 0)
		return hull_err_set(err, errno, "KVM_GET_LAPIC");
	r = msrs_get(kvm_fd, vcpu_fd, s, err);
	if (r < 0)
		return r;
	if (ioctl(vcpu_fd, KVM_GET_VCPU_EVENTS, &s->events) < 0)
		return hull_err_set(err, errno, "KVM_GET_VCPU_EVENTS");
	s->have |= 1U << X86_REC_LAPIC | 1U << X86_REC_MSRS | 1U << X86_REC_EVENTS;
	return 0;
}

static int xsave_set(int vm_fd, int vcpu_fd, const struct x86_vcpu_state *s,
		     struct hull_err *err)
{
	int size = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	size_t need = size > 0 ? (size_t)size : sizeof(struct kvm_xsave);
	cleanup_free uint8_t *buf = NULL;

	if (!(s->have & (1U << X86_REC_XSAVE))) {
		if (ioctl(vcpu_fd, KVM_SET_FPU, &s->fpu) < 0)
			return hull_err_set(err, errno, "KVM_SET_FPU");
		return 0;
	}
	/* KVM_SET_XSAVE reads as many bytes as this host's XSAVE2 size: pad a shorter save */
	buf = calloc(1, need > s->xsave_len ? need : s->xsave_len);
	if (!buf)
		return hull_err_set(err, ENOMEM, "XSAVE area");
	memcpy(buf, s->xsave, s->xsave_len);
	if (ioctl(vcpu_fd, KVM_SET_XSAVE, buf) < 0)
		return hull_err_set(err, errno, "KVM_SET_XSAVE");
	return 0;
}

static int msrs_set(int vcpu_fd, const struct x86_vcpu_state *s, struct hull_err *err)
{
	cleanup_free struct kvm_msrs *buf = calloc(1, sizeof(*buf) +
						   s->n_msrs * sizeof(struct kvm_msr_entry));
	int n;

	if (!buf)
		return hull_err_set(err, ENOMEM, "MSRs");
	buf->nmsrs = s->n_msrs;
	memcpy(buf->entries, s->msrs, s->n_msrs * sizeof(s->msrs[0]));
	n = ioctl(vcpu_fd, KVM_SET_MSRS, buf);
	if (n < 0)
		return hull_err_set(err, errno, "KVM_SET_MSRS");
	if ((uint32_t)n < s->n_msrs)
		return hull_err_setx(err, EINVAL, "KVM_SET_MSRS: KVM refused MSR 0x%x",
				     s->msrs[n].index);
	return 0;
}

/* The order Firecracker restores in: the LAPIC before the MSRs (TSC deadline needs it). */
int x86_vcpu_state_set(int kvm_fd, int vm_fd, int vcpu_fd, const struct x86_vcpu_state *s,
		       struct hull_err *err)
{
	struct kvm_vcpu_events ev = s->events;
	int r;

	(void)kvm_fd;
	if (ioctl(vcpu_fd, KVM_SET_MP_STATE, &s->mp_state) < 0)
		return hull_err_set(err, errno, "KVM_SET_MP_STATE");
	if (ioctl(vcpu_fd, KVM_SET_REGS, &s->regs) < 0)
		return hull_err_set(err, errno, "KVM_SET_REGS");
	if (s->have & (1U << X86_REC_SREGS2)) {
		if (ioctl(vcpu_fd, KVM_SET_SREGS2, &s->sregs2) < 0)
			return hull_err_set(err, errno, "KVM_SET_SREGS2");
	} else if (ioctl(vcpu_fd, KVM_SET_SREGS, &s->sregs) < 0) {
		return hull_err_set(err, errno, "KVM_SET_SREGS");
	}
	r = xsave_set(vm_fd, vcpu_fd, s, err);
	if (r < 0)
		return r;
	if ((s->have & (1U << X86_REC_XCRS)) && ioctl(vcpu_fd, KVM_SET_XCRS, &s->xcrs) < 0)
		return hull_err_set(err, errno, "KVM_SET_XCRS");
	if ((s->have & (1U << X86_REC_DEBUGREGS)) &&
	    ioctl(vcpu_fd, KVM_SET_DEBUGREGS, &s->debugregs) < 0)
		return hull_err_set(err, errno, "KVM_SET_DEBUGREGS");
	if (ioctl(vcpu_fd, KVM_SET_LAPIC, &s->lapic) < 0)
		return hull_err_set(err, errno, "KVM_SET_LAPIC");
	r = msrs_set(vcpu_fd, s, err);
	if (r < 0)
		return r;
	/* GET fills in what it has; these two are inputs only: take the saved values too */
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	if (ioctl(vcpu_fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return hull_err_set(err, errno, "KVM_SET_VCPU_EVENTS");
	return 0;
}

int x86_platform_state_get(int vm_fd, struct x86_platform_state *s, struct hull_err *err)
{
	memset(s, 0, sizeof(*s));
	if (ioctl(vm_fd, KVM_GET_CLOCK, &s->clock) < 0)
		return hull_err_set(err, errno, "KVM_GET_CLOCK");
	if (ioctl(vm_fd, KVM_GET_PIT2, &s->pit) < 0)
		return hull_err_set(err, errno, "KVM_GET_PIT2");
	for (uint32_t i = 0; i < 3; i++) {
		s->chip[i].chip_id = i;
		if (ioctl(vm_fd, KVM_GET_IRQCHIP, &s->chip[i]) < 0)
			return hull_err_set(err, errno, "KVM_GET_IRQCHIP %u", i);
	}
	return 0;
}

int x86_platform_state_set(int vm_fd, const struct x86_platform_state *s, struct hull_err *err)
{
	/* the clock's value only: its flags say what GET knew, SET takes few of them */
	struct kvm_clock_data clock = { .clock = s->clock.clock };

	if (ioctl(vm_fd, KVM_SET_PIT2, &s->pit) < 0)
		return hull_err_set(err, errno, "KVM_SET_PIT2");
	if (ioctl(vm_fd, KVM_SET_CLOCK, &clock) < 0)
		return hull_err_set(err, errno, "KVM_SET_CLOCK");
	for (uint32_t i = 0; i < 3; i++)
		if (ioctl(vm_fd, KVM_SET_IRQCHIP, &s->chip[i]) < 0)
			return hull_err_set(err, errno, "KVM_SET_IRQCHIP %u", i);
	return 0;
}

/* The arch hooks (arch.h) on top of the above. */

int arch_state_save(struct vm *vm, struct state_writer *w, struct hull_err *err)
{
	struct x86_platform_state p;
	cleanup_free struct x86_vcpu_state *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return hull_err_set(err, ENOMEM, "vCPU state");
	r = x86_platform_state_get(vm->vm_fd, &p, err);
	if (r < 0)
		return r;
	x86_platform_state_encode(&p, w);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		r = x86_vcpu_state_get(vm->kvm_fd, vm->vm_fd, vm->vcpus[i].fd, s, err);
		if (r < 0)
			return hull_err_prefix(err, "vCPU %u", i);
		x86_vcpu_state_encode(s, i, w);
	}
	return w->err ? hull_err_set(err, -w->err, "state stream") : 0;
}

static int decode_err(int r, const char *what, unsigned idx, struct hull_err *err)
{
	return hull_err_setx(err, -r, "%s %u: %s", what, idx,
			     r == -EPROTONOSUPPORT ? "state from a newer hull (unknown version)"
						   : "corrupt state");
}

int arch_state_load(struct vm *vm, uint32_t id, uint32_t instance, struct state_reader *sec,
		    struct hull_err *err)
{
	cleanup_free struct x86_vcpu_state *s = NULL;
	struct x86_platform_state p;
	int r;

	if (id == X86_STATE_PLATFORM) {
		if (instance != 0)
			return hull_err_setx(err, EBADMSG, "platform state: instance %u", instance);
		r = x86_platform_state_decode(sec, &p);
		if (r < 0)
			return decode_err(r, "platform state", instance, err);
		r = x86_platform_state_set(vm->vm_fd, &p, err);
		return r < 0 ? r : 1;
	}
	if (id != X86_STATE_VCPU)
		return 0;
	if (instance >= vm->ncpus)
		return hull_err_setx(err, EBADMSG, "vCPU state %u: the VM has %u vCPUs", instance,
				     vm->ncpus);
	s = calloc(1, sizeof(*s));
	if (!s)
		return hull_err_set(err, ENOMEM, "vCPU state");
	r = x86_vcpu_state_decode(sec, s);
	if (r < 0)
		return decode_err(r, "vCPU state", instance, err);
	r = x86_vcpu_state_set(vm->kvm_fd, vm->vm_fd, vm->vcpus[instance].fd, s, err);
	if (r < 0)
		return hull_err_prefix(err, "vCPU %u", instance);
	return 1;
}

unsigned arch_state_sections(const struct vm *vm)
{
	return vm->ncpus + 1;
}
