#include "vmm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "vmm/vm.h"
#include "vmm/seccomp.h"
#include "vmm/x86/arch.h"

/* The signal that kicks a vCPU thread out of KVM_RUN; its handler does nothing. */
#define VCPU_KICK_SIGNAL SIGUSR1

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

int vcpus_create(struct vm *vm, struct hull_err *err)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler };
	int r;

	/* No SA_RESTART: KVM_RUN must return EINTR. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return hull_err_set(err, errno, "sigaction");
	vm->vcpus = xcalloc(vm->ncpus, sizeof(*vm->vcpus));
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *c = &vm->vcpus[i];
		void *run;

		c->vm = vm;
		c->id = i;
		c->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
		if (c->fd < 0)
			return hull_err_set(err, errno, "KVM_CREATE_VCPU %u", i);
		run = mmap(NULL, (size_t)vm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			   c->fd, 0);
		if (run == MAP_FAILED)
			return hull_err_set(err, errno, "mmap vCPU %u", i);
		c->run = run;
		r = arch_vcpu_init(vm, c, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static void vcpu_pio(struct vcpu *c)
{
	struct kvm_run *run = c->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	/* count > 1 for rep ins/outs: KVM hands over the whole string at data_offset. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
		if (!io_bus_dispatch(&c->vm->pio, run->io.port, data, run->io.size, is_write) &&
		    !is_write)
			memset(data, 0xff, run->io.size);
}

static void vcpu_mmio(struct vcpu *c)
{
	struct kvm_run *run = c->run;
	uint32_t len = run->mmio.len > 8 ? 8 : run->mmio.len;

	if (!io_bus_dispatch(&c->vm->mmio, run->mmio.phys_addr, run->mmio.data, len,
			     run->mmio.is_write) &&
	    !run->mmio.is_write)
		memset(run->mmio.data, 0xff, len);
}

/* Park while the VM is paused. */
static void vcpu_park(struct vcpu *c)
{
	struct vm *vm = c->vm;
	bool paused;

	pthread_mutex_lock(&vm->lock);
	paused = vm->paused;
	pthread_mutex_unlock(&vm->lock);
	if (paused) {
		/*
		 * KVM finishes a port or MMIO exit only on the next KVM_RUN; with immediate_exit
		 * set, that KVM_RUN completes it and returns EINTR before entering the guest
		 * (KVM's api.rst), so a paused vCPU's state is whole for a snapshot.
		 */
		c->run->immediate_exit = 1;
		(void)ioctl(c->fd, KVM_RUN, 0);
		c->run->immediate_exit = 0;
	}
	pthread_mutex_lock(&vm->lock);
	if (vm->paused && !atomic_load(&vm->stop)) {
		vm->n_parked++;
		pthread_cond_broadcast(&vm->cond);
		while (vm->paused && !atomic_load(&vm->stop))
			pthread_cond_wait(&vm->cond, &vm->lock);
		vm->n_parked--;
	}
	pthread_mutex_unlock(&vm->lock);
}

/* One writer (this thread); GET /metrics reads while it runs: relaxed atomics, no lock. */
static void count_exit(struct vcpu *c, enum vm_exit_kind k)
{
	__atomic_store_n(&c->exits[k], __atomic_load_n(&c->exits[k], __ATOMIC_RELAXED) + 1,
			 __ATOMIC_RELAXED);
}

/* Returns false when the thread must stop. */
static bool vcpu_handle_exit(struct vcpu *c)
{
	struct kvm_run *run = c->run;
	char detail[256];
	size_t l;

	if (run->exit_reason != KVM_EXIT_IO && run->exit_reason != KVM_EXIT_MMIO)
		count_exit(c, VM_EXIT_OTHER);
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		if (run->io.port >= 0x3f8 && run->io.port < 0x400)
			count_exit(c, VM_EXIT_IO_SERIAL);
		else if (run->io.port >= 0xcf8 && run->io.port < 0xd00)
			count_exit(c, VM_EXIT_IO_PCI);
		else
			count_exit(c, VM_EXIT_IO_OTHER);
		vcpu_pio(c);
		return true;
	case KVM_EXIT_MMIO:
		count_exit(c, VM_EXIT_MMIO);
		vcpu_mmio(c);
		return true;
	case KVM_EXIT_SHUTDOWN:
		/*
		 * A triple fault: what a PC does on reset, and how Linux's last-resort reboot
		 * ends. Where the vCPU was tells an intended reset from a crash in early boot.
		 */
		l = (size_t)snprintf(detail, sizeof(detail), "triple fault: ");
		arch_vcpu_describe(c, detail + l, sizeof(detail) - l);
		vm_request_stop(c->vm, VM_STOP_REBOOT, detail);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
			vm_request_stop(c->vm, VM_STOP_POWEROFF, "system event");
		else if (run->system_event.type == KVM_SYSTEM_EVENT_CRASH)
			vm_request_stop(c->vm, VM_STOP_PANIC, "system event");
		else
			vm_request_stop(c->vm, VM_STOP_REBOOT, "system event");
		return false;
	case KVM_EXIT_HLT:
		vm_request_stop(c->vm, VM_STOP_POWEROFF, "halt");
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		(void)snprintf(detail, sizeof(detail), "vCPU %u: entry failed, reason 0x%llx", c->id,
			       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vm_request_stop(c->vm, VM_STOP_ERROR, detail);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		(void)snprintf(detail, sizeof(detail), "vCPU %u: KVM internal error, suberror %u",
			       c->id, run->internal.suberror);
		vm_request_stop(c->vm, VM_STOP_ERROR, detail);
		return false;
	default:
		(void)snprintf(detail, sizeof(detail), "vCPU %u: unhandled exit reason %u", c->id,
			       run->exit_reason);
		vm_request_stop(c->vm, VM_STOP_ERROR, detail);
		return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *c = arg;
	struct vm *vm = c->vm;
	char detail[128];
	sigset_t set;

	int r;

	/* Before the first KVM_RUN: nothing the guest does runs unfiltered (seccomp.c). */
	r = vmm_seccomp_install(vm->cfg, VMM_THREAD_VCPU);
	if (r < 0) {
		(void)snprintf(detail, sizeof(detail), "vCPU %u: seccomp filter: %s", c->id,
			       strerror(-r));
		vm_request_stop(vm, VM_STOP_ERROR, detail);
		return NULL;
	}
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	(void)pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	for (;;) {
		if (atomic_load(&vm->stop))
			break;
		vcpu_park(c);
		if (atomic_load(&vm->stop))
			break;
		if (ioctl(c->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				c->run->immediate_exit = 0;
				continue;
			}
			(void)snprintf(detail, sizeof(detail), "vCPU %u: KVM_RUN: %s", c->id,
				       strerror(errno));
			vm_request_stop(vm, VM_STOP_ERROR, detail);
			break;
		}
		if (!vcpu_handle_exit(c))
			break;
	}
	return NULL;
}

#define VCPU_STACK_SIZE (1U << 20)

int vcpus_start(struct vm *vm, struct hull_err *err)
{
	sigset_t set, old;
	pthread_attr_t attr;
	int r;

	/*
	 * 1 MiB stacks instead of glibc's 8 MiB: an 8 MiB anonymous mapping holds 2 MiB-aligned
	 * ranges, and with THP set to "always" the first touch of the stack faulted in a whole
	 * 2 MiB huge page (seen once guest RAM became 2 MiB-aligned and the stacks landed
	 * aligned below it: +2 MiB of VMM RSS per vCPU). The vCPU loop needs a few KiB.
	 */
	(void)pthread_attr_init(&attr);
	(void)pthread_attr_setstacksize(&attr, VCPU_STACK_SIZE);
	/* Threads start with the kick signal blocked and unblock it themselves. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	(void)pthread_sigmask(SIG_BLOCK, &set, &old);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		r = pthread_create(&vm->vcpus[i].thread, &attr, vcpu_thread, &vm->vcpus[i]);
		if (r != 0) {
			(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
			(void)pthread_attr_destroy(&attr);
			return hull_err_set(err, r, "starting vCPU thread %u", i);
		}
		vm->vcpus[i].started = true;
	}
	(void)pthread_attr_destroy(&attr);
	return 0;
}

void vcpus_kick(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *c = &vm->vcpus[i];

		if (!c->started)
			continue;
		/* immediate_exit covers a thread between its checks and KVM_RUN (KVM api.rst). */
		c->run->immediate_exit = 1;
		(void)pthread_kill(c->thread, VCPU_KICK_SIGNAL);
	}
}

void vcpus_join(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus && vm->vcpus[i].started) {
			(void)pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].started = false;
		}
}

void vcpus_free(struct vm *vm)
{
	if (!vm->vcpus)
		return;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *c = &vm->vcpus[i];

		if (c->run)
			(void)munmap(c->run, (size_t)vm->vcpu_mmap_size);
		if (c->fd > 0)
			(void)close(c->fd);
	}
	free(vm->vcpus);
	vm->vcpus = NULL;
}
