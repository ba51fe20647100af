/* The Linux x86 boot protocol, 64-bit entry (Documentation/arch/x86/boot.rst). */
#include <asm/bootparam.h>
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vmm/x86/boot.h"
#include "vmm/x86/e820.h"
#include "vmm/x86/layout.h"

#define BZ_HDR_MAGIC 0x53726448U /* "HdrS" */
#define BZ_OFF_SETUP_SECTS 0x1f1
#define BZ_OFF_HDR 0x202
#define BZ_MIN_VERSION 0x020c /* 2.12: xloadflags, so XLF_KERNEL_64 can be checked */

bool bzimage_detect(const uint8_t *img, size_t len)
{
	uint32_t magic;

	if (len < 0x400)
		return false;
	memcpy(&magic, img + BZ_OFF_HDR, 4);
	return le32toh(magic) == BZ_HDR_MAGIC;
}

/*
 * pread() size: reads of tens of MiB in one call were 3x slower than 128 KiB ones on the
 * sandbox's 9p root (1.1-1.4 s against 0.38 s for the 66 MiB vmlinux: large reads skip
 * readahead); on a local file system the extra system calls cost nothing measurable.
 */
#define BOOT_READ_CHUNK (128U << 10)

static size_t boot_head_len(const struct boot_input *in)
{
	if (!in->has_kernel_fd)
		return in->kernel_len;
	return in->head_len < in->kernel_len ? in->head_len : in->kernel_len;
}

int boot_kernel_read(const struct boot_input *in, void *dst, uint64_t off, uint64_t len)
{
	uint8_t *d = dst;
	uint64_t done = 0;

	if (off > in->kernel_len || len > in->kernel_len - off)
		return -EINVAL;
	if (off + len <= boot_head_len(in)) {
		memcpy(d, in->kernel + off, len);
		return 0;
	}
	if (!in->has_kernel_fd)
		return -EINVAL;
	while (done < len) {
		uint64_t want = len - done < BOOT_READ_CHUNK ? len - done : BOOT_READ_CHUNK;
		ssize_t n = pread(in->kernel_fd, d + done, want, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the file is shorter than when it was opened */
		done += (uint64_t)n;
	}
	return 0;
}

int boot_place_initrd(const struct guest_mem *m, uint64_t len, uint64_t floor, uint64_t limit,
		      uint64_t *ret_addr)
{
	uint64_t top = m->low_size < limit ? m->low_size : limit;
	uint64_t addr;

	if (len > top)
		return -ENOMEM;
	addr = (top - len) & ~0xfffULL;
	if (addr < floor)
		return -ENOMEM;
	*ret_addr = addr;
	return 0;
}

int boot_write_page_tables(const struct guest_mem *m)
{
	uint64_t *pml4 = gmem_ptr(m, LAYOUT_PML4, 4096);
	uint64_t *pdpt = gmem_ptr(m, LAYOUT_PDPT, 4096);
	uint64_t *pd = gmem_ptr(m, LAYOUT_PD, 4 * 4096);
	uint64_t *gdt = gmem_ptr(m, LAYOUT_GDT, 4 * 8);

	if (!pml4 || !pdpt || !pd || !gdt)
		return -EFAULT;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = htole64(LAYOUT_PDPT | 0x3); /* present, writable */
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = htole64((LAYOUT_PD + i * 4096) | 0x3);
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = htole64((i << 21) | 0x83); /* present, writable, 2 MiB page */
	/* Boot GDT: __BOOT_CS = 0x10 (64-bit code), __BOOT_DS = 0x18 (flat data). */
	gdt[0] = 0;
	gdt[1] = 0;
	gdt[2] = htole64(0x00af9b000000ffffULL);
	gdt[3] = htole64(0x00cf93000000ffffULL);
	return 0;
}

static int bz_cmdline(const struct guest_mem *m, const struct boot_input *in, uint32_t max,
		      struct hull_err *err)
{
	size_t len = strlen(in->cmdline);

	if (len + 1 > max || len + 1 > LAYOUT_CMDLINE_MAX)
		return hull_err_setx(err, E2BIG, "--cmdline: %zu bytes, the kernel takes at most %u",
				     len, (max < LAYOUT_CMDLINE_MAX ? max : (uint32_t)LAYOUT_CMDLINE_MAX) - 1);
	return gmem_write(m, LAYOUT_CMDLINE, in->cmdline, len + 1);
}

int bzimage_load(const struct guest_mem *m, const struct boot_input *in,
		 struct boot_result *out, struct hull_err *err)
{
	struct boot_params *bp = gmem_ptr(m, LAYOUT_ZERO_PAGE, sizeof(*bp));
	struct e820_range map[E820_MAX_ENTRIES_ZEROPAGE];
	size_t setup_sects, setup_len, hdr_end, pm_off, pm_len, n;
	uint8_t *dst;
	uint64_t kernel_end, initrd_addr = 0;
	uint32_t init_size, cmdline_size;
	int r;

	if (!bzimage_detect(in->kernel, boot_head_len(in)))
		return hull_err_setx(err, EINVAL, "%s: not a bzImage (no HdrS header)", in->name);
	if (!bp)
		return hull_err_setx(err, ENOMEM, "%s: guest memory too small", in->name);
	memset(bp, 0, sizeof(*bp));
	/* The setup header runs from 0x1f1 to 0x202 + the byte at 0x201 (boot.rst). */
	hdr_end = BZ_OFF_HDR + in->kernel[0x201];
	if (hdr_end - BZ_OFF_SETUP_SECTS > sizeof(bp->hdr))
		hdr_end = BZ_OFF_SETUP_SECTS + sizeof(bp->hdr);
	memcpy(&bp->hdr, in->kernel + BZ_OFF_SETUP_SECTS, hdr_end - BZ_OFF_SETUP_SECTS);
	if (le16toh(bp->hdr.version) < BZ_MIN_VERSION)
		return hull_err_setx(err, EINVAL, "%s: boot protocol %u.%02u, hull needs 2.12 or later",
				     in->name, le16toh(bp->hdr.version) >> 8,
				     le16toh(bp->hdr.version) & 0xff);
	if (!(le16toh(bp->hdr.xloadflags) & XLF_KERNEL_64))
		return hull_err_setx(err, EINVAL, "%s: not a 64-bit kernel (no XLF_KERNEL_64)",
				     in->name);
	setup_sects = bp->hdr.setup_sects ? bp->hdr.setup_sects : 4;
	setup_len = (setup_sects + 1) * 512;
	if (setup_len >= in->kernel_len)
		return hull_err_setx(err, EINVAL, "%s: truncated bzImage (setup of %zu bytes)",
				     in->name, setup_len);
	pm_off = setup_len;
	pm_len = in->kernel_len - pm_off;
	/* syssize (protocol 2.04+): the protected-mode code's size in 16-byte units. */
	if ((uint64_t)le32toh(bp->hdr.syssize) * 16 > pm_len)
		return hull_err_setx(err, EINVAL,
				     "%s: truncated bzImage (the header says %llu bytes of kernel "
				     "after the setup, the file has %zu)",
				     in->name, (unsigned long long)le32toh(bp->hdr.syssize) * 16,
				     pm_len);
	init_size = le32toh(bp->hdr.init_size);
	kernel_end = LAYOUT_KERNEL + (init_size > pm_len ? init_size : pm_len);
	/* A relocatable kernel decompresses at pref_address: leave that room too. */
	if (le64toh(bp->hdr.pref_address) > LAYOUT_KERNEL &&
	    le64toh(bp->hdr.pref_address) < GMEM_HOLE_START)
		kernel_end = le64toh(bp->hdr.pref_address) + init_size;
	if (kernel_end > m->low_size)
		return hull_err_setx(err, ENOMEM,
				     "%s: needs %llu MiB of guest memory to decompress; --memory is too small",
				     in->name, (unsigned long long)(kernel_end >> 20) + 1);
	dst = gmem_ptr(m, LAYOUT_KERNEL, pm_len);
	if (!dst)
		return hull_err_setx(err, ENOMEM, "%s: guest memory too small", in->name);
	r = boot_kernel_read(in, dst, pm_off, pm_len);
	if (r == -EIO)
		return hull_err_setx(err, EIO, "%s: the file shrank while hull was loading it",
				     in->name);
	if (r < 0)
		return hull_err_set(err, -r, "%s: loading the kernel", in->name);

	cmdline_size = le32toh(bp->hdr.cmdline_size);
	r = bz_cmdline(m, in, cmdline_size ? cmdline_size + 1 : 256, err);
	if (r < 0)
		return r;
	if (in->initrd_len) {
		uint64_t limit = (uint64_t)le32toh(bp->hdr.initrd_addr_max) + 1;

		r = boot_place_initrd(m, in->initrd_len, kernel_end, limit, &initrd_addr);
		if (r < 0)
			return hull_err_setx(err, ENOMEM,
					     "--initrd: %zu MiB does not fit in guest memory next to "
					     "the kernel; raise --memory",
					     in->initrd_len >> 20);
		r = gmem_write(m, initrd_addr, in->initrd, in->initrd_len);
		if (r < 0)
			return hull_err_set(err, -r, "loading the initrd");
		bp->hdr.ramdisk_image = htole32((uint32_t)initrd_addr);
		bp->hdr.ramdisk_size = htole32((uint32_t)in->initrd_len);
	}
	bp->hdr.type_of_loader = 0xff; /* undefined boot loader */
	bp->hdr.loadflags |= CAN_USE_HEAP;
	bp->hdr.heap_end_ptr = htole16(0xfe00);
	bp->hdr.cmd_line_ptr = htole32((uint32_t)LAYOUT_CMDLINE);
	bp->hdr.code32_start = htole32((uint32_t)LAYOUT_KERNEL);
	if (le16toh(bp->hdr.version) >= 0x020e)
		bp->acpi_rsdp_addr = htole64(in->rsdp);
	n = e820_build(m, map, E820_MAX_ENTRIES_ZEROPAGE);
	for (size_t i = 0; i < n; i++) {
		bp->e820_table[i].addr = htole64(map[i].addr);
		bp->e820_table[i].size = htole64(map[i].size);
		bp->e820_table[i].type = htole32(map[i].type);
	}
	bp->e820_entries = (uint8_t)n;
	r = boot_write_page_tables(m);
	if (r < 0)
		return hull_err_set(err, -r, "writing boot page tables");
	out->mode = BOOT_MODE_LONG;
	out->entry = LAYOUT_KERNEL + 0x200; /* startup_64 */
	out->params = LAYOUT_ZERO_PAGE;
	return 0;
}

int raw_load(const struct guest_mem *m, const struct boot_input *in, struct boot_result *out,
	     struct hull_err *err)
{
	uint8_t *dst;
	int r;

	if (in->kernel_len == 0 || in->kernel_len > LAYOUT_RAW_MAX)
		return hull_err_setx(err, EINVAL, "%s: a raw guest image must be 1 to %llu bytes",
				     in->name, (unsigned long long)LAYOUT_RAW_MAX);
	dst = gmem_ptr(m, LAYOUT_RAW_LOAD, in->kernel_len);
	if (!dst)
		return hull_err_setx(err, ENOMEM, "%s: guest memory too small", in->name);
	r = boot_kernel_read(in, dst, 0, in->kernel_len);
	if (r < 0)
		return hull_err_set(err, -r, "%s: loading the raw guest", in->name);
	out->mode = BOOT_MODE_REAL;
	out->entry = LAYOUT_RAW_LOAD;
	out->params = 0;
	return 0;
}
