#pragma once
/*
 * Kernel loaders. Each writes the kernel (and initrd, command line, boot structures) into
 * guest memory and reports where and how the boot vCPU starts. They validate everything they
 * read from the files: a truncated or hostile image is an error, never an overrun.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "vmm/memory.h"

enum boot_mode {
	BOOT_MODE_LONG,   /* 64-bit boot protocol: paging on, RSI = boot_params */
	BOOT_MODE_PVH,    /* 32-bit protected mode, paging off, EBX = hvm_start_info */
	BOOT_MODE_REAL,   /* real mode at CS:IP = 0x1000:0 */
	BOOT_MODE_COUNT,
};

struct boot_input {
	const char *name; /* kernel path, for error messages */
	/*
	 * The first head_len bytes of the kernel file (enough for a bzImage's setup and an ELF
	 * header); kernel_len is the whole file's size. Without has_kernel_fd, kernel holds
	 * the whole file (head_len == kernel_len: unit tests). With it, the rest is read with
	 * pread() from kernel_fd straight into guest RAM (boot_kernel_read): the file is never
	 * mapped, so one truncated while hull loads it is an error, not a SIGBUS.
	 */
	const uint8_t *kernel;
	size_t head_len;
	size_t kernel_len;
	bool has_kernel_fd;
	int kernel_fd;
	const uint8_t *initrd;
	size_t initrd_len;
	const char *cmdline;
	uint64_t rsdp;
};

struct boot_result {
	enum boot_mode mode;
	uint64_t entry;
	uint64_t params; /* boot_params or start_info address */
};

/*
 * Copy len bytes of the kernel file from off to dst (host memory, usually guest RAM): from
 * the head or with pread(). 0, -EINVAL when the range is outside kernel_len, -EIO when the
 * file is shorter than it was (truncated while loading), or another -errno of pread().
 */
int boot_kernel_read(const struct boot_input *in, void *dst, uint64_t off, uint64_t len);

bool bzimage_detect(const uint8_t *img, size_t len);
bool elf_detect(const uint8_t *img, size_t len);

int bzimage_load(const struct guest_mem *m, const struct boot_input *in,
		 struct boot_result *out, struct hull_err *err);
int pvh_load(const struct guest_mem *m, const struct boot_input *in, struct boot_result *out,
	     struct hull_err *err);
int raw_load(const struct guest_mem *m, const struct boot_input *in, struct boot_result *out,
	     struct hull_err *err);

/* Identity-map the first 4 GiB with 2 MiB pages at LAYOUT_PML4 and write the boot GDT. */
int boot_write_page_tables(const struct guest_mem *m);

/*
 * Where an initrd of len bytes goes: page-aligned, as high as possible below min(limit, end
 * of low RAM), and not below floor. Returns 0 or -ENOMEM.
 */
int boot_place_initrd(const struct guest_mem *m, uint64_t len, uint64_t floor, uint64_t limit,
		      uint64_t *ret_addr);
