#pragma once
/*
 * The VM generation ID (Microsoft's "Virtual Machine Generation ID" spec, Linux's
 * drivers/virt/vmgenid.c): a 16-byte random GUID in guest memory that the DSDT's VGEN device
 * names with its ADDR package (x86/acpi.c), and an ACPI GED whose interrupt runs
 * Notify(VGEN, 0x80). The guest mixes the GUID into its RNG at boot; when it changes and the
 * notify arrives, Linux reseeds its CRNG ("crng reseeded due to virtual machine fork"), so
 * that clones restored from one snapshot stop sharing random state.
 *
 * Guest state: the GUID (it lives in guest RAM too, saved with it). A restore (cfg->restore_dir
 * set: a clone) writes a new GUID and raises the GED's interrupt once the state is loaded; any
 * other load (a migration: the same VM moved) keeps the saved GUID.
 */
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

struct vm;
struct vmgenid;
struct guest_mem;
struct state_writer;
struct state_reader;

#define VMGENID_SIZE 16

/* A new random GUID written at LAYOUT_VMGENID. 0 or -errno with err set. */
int vmgenid_create(struct vm *vm, struct vmgenid **ret, struct hull_err *err);
/* For unit tests: no VM, no interrupt; restore as a restore's device would load. */
struct vmgenid *vmgenid_new_test(const struct guest_mem *mem, bool restore);
void vmgenid_free(struct vmgenid *g);
/* The GUID the guest sees now (for tests and the API). */
void vmgenid_get(const struct vmgenid *g, uint8_t out[VMGENID_SIZE]);
void vmgenid_save(struct vmgenid *g, struct state_writer *w);
/* 0 or -EBADMSG (another address or GSI than this hull's layout), then as described above. */
int vmgenid_load(struct vmgenid *g, struct state_reader *r);
