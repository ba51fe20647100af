#pragma once
/* vCPUs: one thread each, running KVM_RUN and dispatching port I/O and MMIO exits. */
#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>

#include "common/error.h"
#include "vmm/vmm.h"

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	uint64_t exits[VM_EXIT_KIND_COUNT]; /* this thread's own counters: summed after join */
};

/* Create vm->ncpus vCPUs with their CPUID; the boot vCPU's registers come from the loader. */
int vcpus_create(struct vm *vm, struct hull_err *err);
int vcpus_start(struct vm *vm, struct hull_err *err);
/* Interrupt every running KVM_RUN so that the threads look at vm->stop and vm->paused. */
void vcpus_kick(struct vm *vm);
void vcpus_join(struct vm *vm);
void vcpus_free(struct vm *vm);
