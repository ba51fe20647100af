/* Kernel loaders (bzImage 64-bit protocol, PVH ELF, raw) and the e820 map. */
#include <asm/bootparam.h>
#include <elf.h>
#include <sys/mman.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/memory.h"
#include "vmm/x86/boot.h"
#include "vmm/x86/e820.h"
#include "vmm/x86/layout.h"

#define MEM (64U << 20)
#define PAYLOAD 4096

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* A minimal bzImage: one setup sector after the boot sector, then a marked payload. */
static uint8_t *fake_bzimage(size_t *len, uint16_t version, uint16_t xloadflags)
{
	size_t n = 2 * 512 + PAYLOAD;
	uint8_t *k = calloc(1, n);

	k[0x1f1] = 1;                  /* setup_sects */
	put16(k + 0x1fe, 0xaa55);
	k[0x201] = 0x66;               /* header runs to 0x268 */
	memcpy(k + 0x202, "HdrS", 4);
	put16(k + 0x206, version);
	k[0x211] = 0x01;               /* LOADED_HIGH */
	put32(k + 0x22c, 0x7fffffff);  /* initrd_addr_max */
	put32(k + 0x230, 0x200000);    /* kernel_alignment */
	k[0x234] = 1;                  /* relocatable */
	put16(k + 0x236, xloadflags);
	put32(k + 0x238, 2047);        /* cmdline_size */
	put64(k + 0x258, 0x1000000);   /* pref_address */
	put32(k + 0x260, 8U << 20);    /* init_size */
	put32(k + 0x1f4, PAYLOAD / 16); /* syssize */
	memcpy(k + 1024, "PAYLOAD-START", 13);
	*len = n;
	return k;
}

static void test_bzimage_load(void **state)
{
	struct guest_mem m;
	struct hull_err err = { 0 };
	size_t klen;
	uint8_t *k = fake_bzimage(&klen, 0x020f, XLF_KERNEL_64);
	uint8_t initrd[5000];
	struct boot_input in = { .name = "vmlinuz", .kernel = k, .kernel_len = klen,
				 .initrd = initrd, .initrd_len = sizeof(initrd),
				 .cmdline = "console=ttyS0 quiet", .rsdp = 0xe0000 };
	struct boot_result out;
	struct boot_params *bp;
	uint64_t *pd;

	memset(initrd, 0x5a, sizeof(initrd));
	assert_int_equal(gmem_init(&m, MEM), 0);
	assert_int_equal(bzimage_load(&m, &in, &out, &err), 0);
	assert_int_equal(out.mode, BOOT_MODE_LONG);
	assert_int_equal(out.entry, 0x100200);
	assert_int_equal(out.params, LAYOUT_ZERO_PAGE);
	assert_memory_equal(gmem_ptr(&m, 0x100000, 13), "PAYLOAD-START", 13);
	bp = gmem_ptr(&m, LAYOUT_ZERO_PAGE, sizeof(*bp));
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	assert_string_equal(gmem_ptr(&m, LAYOUT_CMDLINE, 20), "console=ttyS0 quiet");
	assert_int_equal(bp->acpi_rsdp_addr, 0xe0000);
	/* initrd: page-aligned, at the top of RAM, above the decompressed kernel */
	assert_int_equal(bp->hdr.ramdisk_size, sizeof(initrd));
	assert_int_equal(bp->hdr.ramdisk_image & 0xfff, 0);
	assert_true(bp->hdr.ramdisk_image + sizeof(initrd) <= MEM);
	assert_true(bp->hdr.ramdisk_image >= 0x1000000 + (8U << 20));
	assert_int_equal(*(uint8_t *)gmem_ptr(&m, bp->hdr.ramdisk_image, 1), 0x5a);
	/* e820: low RAM, EBDA, BIOS area, RAM from 1 MiB */
	assert_int_equal(bp->e820_entries, 4);
	assert_int_equal(bp->e820_table[3].addr, 0x100000);
	assert_int_equal(bp->e820_table[3].size, MEM - 0x100000);
	assert_int_equal(bp->e820_table[3].type, E820_RAM);
	/* identity map: PD entry 3 maps 6 MiB as a 2 MiB page */
	pd = gmem_ptr(&m, LAYOUT_PD, 4096);
	assert_int_equal(pd[3], (3ULL << 21) | 0x83);
	gmem_release(&m);
	free(k);
}

/*
 * With the kernel's fd (as hull runs): only the head is in memory, the payload is pread()
 * into guest RAM; a file cut short, before or during loading, is an error naming it.
 */
static void test_bzimage_load_fd(void **state)
{
	struct guest_mem m;
	struct hull_err err = { 0 };
	size_t klen;
	uint8_t *k = fake_bzimage(&klen, 0x020f, XLF_KERNEL_64);
	struct boot_input in = { .name = "/boot/vmlinuz-x", .kernel = k, .head_len = 1024,
				 .kernel_len = klen, .cmdline = "", .rsdp = 0xe0000,
				 .has_kernel_fd = true };
	struct boot_result out;

	in.kernel_fd = memfd_create("vmlinuz", MFD_CLOEXEC);
	assert_true(in.kernel_fd >= 0);
	assert_int_equal(write(in.kernel_fd, k, klen), (ssize_t)klen);
	memset(k + 1024, 0, 16); /* the payload must come from the fd, not the buffer */
	assert_int_equal(gmem_init(&m, MEM), 0);
	assert_int_equal(bzimage_load(&m, &in, &out, &err), 0);
	assert_memory_equal(gmem_ptr(&m, 0x100000, 13), "PAYLOAD-START", 13);
	/* truncated after hull measured it: pread() comes up short */
	assert_int_equal(ftruncate(in.kernel_fd, 2048), 0);
	assert_int_equal(bzimage_load(&m, &in, &out, &err), -EIO);
	assert_non_null(strstr(err.msg, "/boot/vmlinuz-x"));
	assert_non_null(strstr(err.msg, "shrank"));
	/* truncated before: the header's syssize says more than the file has */
	in.kernel_len = 2048;
	assert_int_equal(bzimage_load(&m, &in, &out, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "/boot/vmlinuz-x: truncated bzImage"));
	/* a range outside the file is refused by the reader itself */
	assert_int_equal(boot_kernel_read(&in, k, 2000, 100), -EINVAL);
	assert_int_equal(boot_kernel_read(&in, k, UINT64_MAX, 2), -EINVAL);
	gmem_release(&m);
	close(in.kernel_fd);
	free(k);
}

static void test_bzimage_errors(void **state)
{
	struct guest_mem m;
	struct hull_err err = { 0 };
	size_t klen;
	uint8_t *k;
	struct boot_input in = { .name = "vmlinuz", .cmdline = "" };
	struct boot_result out;
	char *longcmd = malloc(5000);

	assert_int_equal(gmem_init(&m, MEM), 0);
	k = fake_bzimage(&klen, 0x020f, 0); /* 32-bit only */
	in.kernel = k;
	in.kernel_len = klen;
	assert_int_equal(bzimage_load(&m, &in, &out, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "64-bit"));
	free(k);
	k = fake_bzimage(&klen, 0x0206, XLF_KERNEL_64); /* protocol too old */
	in.kernel = k;
	assert_int_equal(bzimage_load(&m, &in, &out, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "boot protocol 2.06"));
	free(k);
	k = fake_bzimage(&klen, 0x020f, XLF_KERNEL_64);
	in.kernel = k;
	in.kernel_len = 1024; /* truncated: nothing after the setup */
	assert_int_equal(bzimage_load(&m, &in, &out, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "truncated"));
	in.kernel_len = klen;
	memset(longcmd, 'x', 4999);
	longcmd[4999] = '\0';
	in.cmdline = longcmd;
	assert_int_equal(bzimage_load(&m, &in, &out, &err), -E2BIG);
	in.cmdline = "";
	in.kernel_len = 100;
	assert_false(bzimage_detect(k, 100));
	gmem_release(&m);
	/* 16 MiB of RAM cannot hold a kernel that decompresses at 16 MiB */
	assert_int_equal(gmem_init(&m, 16U << 20), 0);
	in.kernel_len = klen;
	assert_int_equal(bzimage_load(&m, &in, &out, &err), -ENOMEM);
	assert_non_null(strstr(err.msg, "--memory"));
	gmem_release(&m);
	free(k);
	free(longcmd);
}

/* An ELF64 vmlinux with one PT_LOAD at 16 MiB and a Xen PHYS32_ENTRY note. */
static uint8_t *fake_vmlinux(size_t *len, bool with_note)
{
	size_t n = 8192;
	uint8_t *k = calloc(1, n);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)k;
	Elf64_Phdr *ph = (Elf64_Phdr *)(k + sizeof(*eh));
	uint8_t *note = k + 0x200;

	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_machine = EM_X86_64;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 2;
	ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 0x1000, .p_paddr = 0x1000000,
			      .p_filesz = 0x1000, .p_memsz = 0x3000 };
	ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x200, .p_filesz = 20 };
	put32(note, 4);
	put32(note + 4, 4);
	put32(note + 8, with_note ? 18 : 17);
	memcpy(note + 12, "Xen", 4);
	put32(note + 16, 0x1000123);
	memcpy(k + 0x1000, "VMLINUX", 7);
	*len = n;
	return k;
}

static void test_pvh_load(void **state)
{
	struct guest_mem m;
	struct hull_err err = { 0 };
	size_t klen;
	uint8_t *k = fake_vmlinux(&klen, true);
	uint8_t initrd[100] = { 1 };
	struct boot_input in = { .name = "vmlinux", .kernel = k, .kernel_len = klen,
				 .initrd = initrd, .initrd_len = sizeof(initrd), .cmdline = "a=b",
				 .rsdp = 0xe0000 };
	struct boot_result out;
	uint32_t *si;

	assert_true(elf_detect(k, klen));
	assert_int_equal(gmem_init(&m, MEM), 0);
	memset(gmem_ptr(&m, 0x1001000, 0x2000), 0xff, 0x2000);
	assert_int_equal(pvh_load(&m, &in, &out, &err), 0);
	assert_int_equal(out.mode, BOOT_MODE_PVH);
	assert_int_equal(out.entry, 0x1000123);
	assert_memory_equal(gmem_ptr(&m, 0x1000000, 7), "VMLINUX", 7);
	assert_int_equal(*(uint8_t *)gmem_ptr(&m, 0x1002fff, 1), 0); /* bss zeroed */
	si = gmem_ptr(&m, out.params, 56);
	assert_int_equal(si[0], 0x336ec578);
	assert_int_equal(si[1], 1);
	assert_int_equal(si[3], 1); /* one module: the initrd */
	assert_true(si[12] >= 3);   /* memmap entries */
	gmem_release(&m);
	free(k);
}

/* With the kernel's fd, segments are read from the file straight into guest memory. */
static void test_pvh_load_mapped(void **state)
{
	struct guest_mem m;
	struct hull_err err = { 0 };
	size_t klen;
	uint8_t *k = fake_vmlinux(&klen, true);
	/* the head holds the ELF and program headers and the note; the segment is in the fd */
	struct boot_input in = { .name = "vmlinux", .kernel = k, .head_len = 0x1000,
				 .kernel_len = klen, .cmdline = "", .rsdp = 0xe0000,
				 .has_kernel_fd = true };
	struct boot_result out;
	uint8_t back[8] = { 0 };
	uint8_t *g;

	in.kernel_fd = memfd_create("vmlinux", MFD_CLOEXEC);
	assert_true(in.kernel_fd >= 0);
	assert_int_equal(write(in.kernel_fd, k, klen), (ssize_t)klen);
	memcpy(k + 0x1000, "NOTUSED", 7); /* the segment comes from the fd */
	assert_int_equal(gmem_init(&m, MEM), 0);
	memset(gmem_ptr(&m, 0x1000000, 0x3000), 0xff, 0x3000);
	assert_int_equal(pvh_load(&m, &in, &out, &err), 0);
	g = gmem_ptr(&m, 0x1000000, 0x3000);
	assert_memory_equal(g, "VMLINUX", 7);
	assert_int_equal(g[0xfff], 0);   /* the rest of the segment's file page */
	assert_int_equal(g[0x1000], 0);  /* bss zeroed */
	assert_int_equal(g[0x2fff], 0);
	/* the guest's writes stay in guest memory, not in the file */
	memcpy(g, "GUESTWR", 7);
	assert_int_equal(pread(in.kernel_fd, back, 7, 0x1000), 7);
	assert_memory_equal(back, "VMLINUX", 7);
	/* a file shorter than its headers say: an error naming the kernel, not a crash */
	assert_int_equal(ftruncate(in.kernel_fd, 0x1800), 0);
	assert_int_equal(pvh_load(&m, &in, &out, &err), -EIO);
	assert_non_null(strstr(err.msg, "vmlinux"));
	gmem_release(&m);
	close(in.kernel_fd);
	free(k);
}

static void test_pvh_errors(void **state)
{
	struct guest_mem m;
	struct hull_err err = { 0 };
	size_t klen;
	uint8_t *k = fake_vmlinux(&klen, false);
	struct boot_input in = { .name = "vmlinux", .kernel = k, .kernel_len = klen, .cmdline = "" };
	struct boot_result out;
	Elf64_Phdr *ph = (Elf64_Phdr *)(k + sizeof(Elf64_Ehdr));

	assert_int_equal(gmem_init(&m, MEM), 0);
	assert_int_equal(pvh_load(&m, &in, &out, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "PVH"));
	free(k);
	k = fake_vmlinux(&klen, true);
	in.kernel = k;
	ph = (Elf64_Phdr *)(k + sizeof(Elf64_Ehdr));
	ph[0].p_paddr = 0x7fff0000; /* beyond 64 MiB of RAM */
	assert_int_equal(pvh_load(&m, &in, &out, &err), -ENOMEM);
	ph[0].p_paddr = 0x1000000;
	ph[0].p_filesz = 0xffffffffffULL; /* beyond the file */
	assert_int_equal(pvh_load(&m, &in, &out, &err), -EINVAL);
	gmem_release(&m);
	free(k);
}

static void test_raw_load(void **state)
{
	struct guest_mem m;
	struct hull_err err = { 0 };
	uint8_t code[3] = { 0xf4, 0xeb, 0xfe };
	uint8_t *big = calloc(1, 0x20000);
	struct boot_input in = { .name = "tiny.bin", .kernel = code, .kernel_len = 3 };
	struct boot_result out;

	assert_int_equal(gmem_init(&m, 1U << 20), 0);
	assert_int_equal(raw_load(&m, &in, &out, &err), 0);
	assert_int_equal(out.mode, BOOT_MODE_REAL);
	assert_memory_equal(gmem_ptr(&m, LAYOUT_RAW_LOAD, 3), code, 3);
	in.kernel = big;
	in.kernel_len = 0x20000;
	assert_int_equal(raw_load(&m, &in, &out, &err), -EINVAL);
	gmem_release(&m);
	free(big);
}

/* Guest RAM is 2 MiB-aligned in the host (huge pages, one EPT/NPT entry per 2 MiB). */
static void test_gmem_aligned(void **state)
{
	struct guest_mem m[4];

	for (int i = 0; i < 4; i++) {
		assert_int_equal(gmem_init(&m[i], (uint64_t)(i + 1) * (17U << 20) + 4096), 0);
		assert_int_equal((uintptr_t)m[i].host & ((2U << 20) - 1), 0);
		memset(gmem_ptr(&m[i], 0, 4096), 0xa5, 4096); /* mapped and writable at both ends */
		memset(gmem_ptr(&m[i], m[i].size - 4096, 4096), 0x5a, 4096);
	}
	for (int i = 0; i < 4; i++)
		gmem_release(&m[i]);
}

static void test_e820_large(void **state)
{
	/* 6 GiB: RAM stops at the 3 GiB hole and resumes at 4 GiB (not mapped: sizes only). */
	struct guest_mem m = { .host = NULL, .size = 6ULL << 30, .low_size = 3ULL << 30 };
	struct e820_range r[8];
	size_t n = e820_build(&m, r, 8);
	uint64_t ram = 0;

	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++) {
		if (r[i].type == E820_RAM)
			ram += r[i].size;
		if (i)
			assert_true(r[i].addr >= r[i - 1].addr + r[i - 1].size); /* sorted, disjoint */
		assert_false(r[i].addr < GMEM_HIGH_START && r[i].addr + r[i].size > GMEM_HOLE_START);
	}
	assert_int_equal(r[4].addr, GMEM_HIGH_START);
	assert_int_equal(r[4].size, 3ULL << 30);
	/* everything but the EBDA and BIOS area is RAM */
	assert_int_equal(ram, (6ULL << 30) - 0x400 - 0x20000 - 0x40000);
	assert_int_equal(e820_build(&m, r, 2), 2); /* never more than asked */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bzimage_load),
		cmocka_unit_test(test_bzimage_errors),
		cmocka_unit_test(test_bzimage_load_fd),
		cmocka_unit_test(test_pvh_load),
		cmocka_unit_test(test_pvh_load_mapped),
		cmocka_unit_test(test_pvh_errors),
		cmocka_unit_test(test_raw_load),
		cmocka_unit_test(test_e820_large),
		cmocka_unit_test(test_gmem_aligned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
