#pragma once
/*
 * `hull run|create --vm [--kernel FILE]` (docs/engine.md "hull run --vm"): the container in
 * a microVM (src/engine/backend-vm.c). The flags a VM does not carry yet are refused here,
 * one line naming the flag.
 */
#include "engine/run.h"

/* long-only option ids: the vmback18 block (0x1900) */
#define CLI_VM_OPT 0x1900
#define CLI_VM_KERNEL 0x1901

#define CLI_VM_OPTIONS                                                                     \
	{ "vm", no_argument, NULL, CLI_VM_OPT, NULL,                                       \
	  "run the container in a microVM (hull's VMM, a guest kernel)" },                  \
	{ "kernel", required_argument, NULL, CLI_VM_KERNEL, "FILE",                        \
	  "with --vm: the guest kernel (default: the newest /boot/vmlinuz-*-amd64)" }

/* --vm or --kernel into o; 0, or EXIT_ENGINE after printing. */
int cli_vm_opt(const char *cmd, int opt, const char *arg, struct run_opts *o);
/* After every flag: with --vm, network none by default and the flags it cannot carry
 * refused; --kernel without --vm refused. 0 or EXIT_ENGINE after printing. */
int cli_vm_check(const char *cmd, struct run_opts *o);
