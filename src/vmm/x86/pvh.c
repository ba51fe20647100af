/*
 * PVH boot of an ELF vmlinux: the entry comes from the XEN_ELFNOTE_PHYS32_ENTRY note, the
 * vCPU starts in 32-bit protected mode without paging, EBX points to hvm_start_info
 * (xen/include/public/arch-x86/hvm/start_info.h, version 1).
 */
#include <elf.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/x86/boot.h"
#include "vmm/x86/e820.h"
#include "vmm/x86/layout.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578U
#define PVH_MAX_PHDRS 64
#define PVH_MAX_MEMMAP 16
#define PVH_MAX_NOTES (64U << 10) /* bytes of one PT_NOTE segment hull looks into */

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info");

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry");

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct hvm_memmap_entry) == 24, "hvm_memmap_entry");

#define PVH_MODLIST (LAYOUT_PVH_INFO + 0x40)
#define PVH_MEMMAP (LAYOUT_PVH_INFO + 0x80)

bool elf_detect(const uint8_t *img, size_t len)
{
	return len >= sizeof(Elf64_Ehdr) && memcmp(img, ELFMAG, SELFMAG) == 0;
}

/* Find the PHYS32_ENTRY note in one PT_NOTE segment; 0 when absent. */
static uint64_t pvh_note_entry(const uint8_t *p, uint64_t len)
{
	uint64_t off = 0;

	while (len - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		uint64_t name_sz, desc_sz, desc_off;

		memcpy(&nh, p + off, sizeof(nh));
		name_sz = (le32toh(nh.n_namesz) + 3ULL) & ~3ULL;
		desc_sz = (le32toh(nh.n_descsz) + 3ULL) & ~3ULL;
		desc_off = off + sizeof(nh) + name_sz;
		if (desc_off > len || desc_sz > len - desc_off)
			return 0;
		if (le32toh(nh.n_type) == XEN_ELFNOTE_PHYS32_ENTRY && le32toh(nh.n_namesz) == 4 &&
		    memcmp(p + off + sizeof(nh), "Xen", 4) == 0 && le32toh(nh.n_descsz) >= 4) {
			uint32_t e;

			memcpy(&e, p + desc_off, 4);
			return le32toh(e);
		}
		off = desc_off + desc_sz;
	}
	return 0;
}

/* The PHYS32_ENTRY of one PT_NOTE segment (read from the file); 0 when absent or unreadable. */
static uint64_t pvh_segment_entry(const struct boot_input *in, uint64_t off, uint64_t len)
{
	uint8_t *buf;
	uint64_t entry = 0;

	if (len > PVH_MAX_NOTES)
		len = PVH_MAX_NOTES;
	buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	if (boot_kernel_read(in, buf, off, len) == 0)
		entry = pvh_note_entry(buf, len);
	free(buf);
	return entry;
}

/*
 * Segments are read with pread() straight into guest RAM (boot_kernel_read): one copy, done
 * by the kernel. (Mapping the file's pages into guest RAM copy-on-write was tried: it saves
 * the copy but costs the guest one 4 KiB EPT/NPT fault per page it touches instead of
 * huge-page-backed RAM, and made boots slower in the sandbox; docs/performance.md.)
 */
static int pvh_segments(const struct guest_mem *m, const struct boot_input *in,
			uint64_t *ret_entry, uint64_t *ret_end, struct hull_err *err)
{
	Elf64_Ehdr eh;
	Elf64_Phdr phs[PVH_MAX_PHDRS];
	uint16_t phnum;
	uint64_t phoff, entry = 0, end = 0;
	int r;

	memcpy(&eh, in->kernel, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || le16toh(eh.e_machine) != EM_X86_64)
		return hull_err_setx(err, EINVAL, "%s: not an x86-64 ELF kernel", in->name);
	phnum = le16toh(eh.e_phnum);
	phoff = le64toh(eh.e_phoff);
	if (phnum == 0 || phnum > PVH_MAX_PHDRS || le16toh(eh.e_phentsize) != sizeof(Elf64_Phdr) ||
	    boot_kernel_read(in, phs, phoff, phnum * sizeof(Elf64_Phdr)) < 0)
		return hull_err_setx(err, EINVAL, "%s: bad ELF program headers", in->name);
	for (uint16_t i = 0; i < phnum; i++) {
		uint64_t off, filesz, memsz, paddr;
		uint8_t *dst;

		off = le64toh(phs[i].p_offset);
		filesz = le64toh(phs[i].p_filesz);
		memsz = le64toh(phs[i].p_memsz);
		paddr = le64toh(phs[i].p_paddr);
		if (off > in->kernel_len || filesz > in->kernel_len - off)
			return hull_err_setx(err, EINVAL, "%s: ELF segment %u outside the file",
					     in->name, i);
		if (le32toh(phs[i].p_type) == PT_NOTE && !entry)
			entry = pvh_segment_entry(in, off, filesz);
		if (le32toh(phs[i].p_type) != PT_LOAD)
			continue;
		dst = filesz <= memsz ? gmem_ptr(m, paddr, memsz) : NULL;
		if (!dst || paddr < LAYOUT_KERNEL)
			return hull_err_setx(err, ENOMEM,
					     "%s: ELF segment %u (0x%llx, %llu bytes) does not fit "
					     "in guest memory",
					     in->name, i, (unsigned long long)paddr,
					     (unsigned long long)memsz);
		r = boot_kernel_read(in, dst, off, filesz);
		if (r == -EIO)
			return hull_err_setx(err, EIO,
					     "%s: the file shrank while hull was loading it", in->name);
		if (r < 0)
			return hull_err_set(err, -r, "%s: reading ELF segment %u", in->name, i);
		memset(dst + filesz, 0, memsz - filesz);
		if (paddr + memsz > end)
			end = paddr + memsz;
	}
	if (!entry)
		return hull_err_setx(err, EINVAL,
				     "%s: ELF kernel without a PVH entry (XEN_ELFNOTE_PHYS32_ENTRY): "
				     "needs CONFIG_PVH",
				     in->name);
	*ret_entry = entry;
	*ret_end = end;
	return 0;
}

int pvh_load(const struct guest_mem *m, const struct boot_input *in, struct boot_result *out,
	     struct hull_err *err)
{
	struct hvm_start_info *si = gmem_ptr(m, LAYOUT_PVH_INFO, sizeof(*si));
	struct hvm_memmap_entry *mm = gmem_ptr(m, PVH_MEMMAP, PVH_MAX_MEMMAP * sizeof(*mm));
	struct e820_range map[PVH_MAX_MEMMAP];
	uint64_t entry = 0, end = 0, initrd_addr = 0;
	size_t n, len = strlen(in->cmdline);
	int r;

	if (!elf_detect(in->kernel, in->has_kernel_fd ? in->head_len : in->kernel_len))
		return hull_err_setx(err, EINVAL, "%s: not an ELF file", in->name);
	if (!si || !mm)
		return hull_err_setx(err, ENOMEM, "%s: guest memory too small", in->name);
	r = pvh_segments(m, in, &entry, &end, err);
	if (r < 0)
		return r;
	memset(si, 0, sizeof(*si));
	si->magic = htole32(HVM_START_MAGIC);
	si->version = htole32(1);
	if (len + 1 > LAYOUT_CMDLINE_MAX)
		return hull_err_setx(err, E2BIG, "--cmdline: %zu bytes is too long", len);
	if (gmem_write(m, LAYOUT_CMDLINE, in->cmdline, len + 1) < 0)
		return hull_err_setx(err, ENOMEM, "guest memory too small");
	si->cmdline_paddr = htole64(LAYOUT_CMDLINE);
	si->rsdp_paddr = htole64(in->rsdp);
	if (in->initrd_len) {
		struct hvm_modlist_entry mod = { 0 };

		if (boot_place_initrd(m, in->initrd_len, end, GMEM_HOLE_START, &initrd_addr) < 0)
			return hull_err_setx(err, ENOMEM,
					     "--initrd: %zu MiB does not fit in guest memory next to "
					     "the kernel; raise --memory",
					     in->initrd_len >> 20);
		if (gmem_write(m, initrd_addr, in->initrd, in->initrd_len) < 0)
			return hull_err_setx(err, EFAULT, "loading the initrd");
		mod.paddr = htole64(initrd_addr);
		mod.size = htole64(in->initrd_len);
		if (gmem_write(m, PVH_MODLIST, &mod, sizeof(mod)) < 0)
			return hull_err_setx(err, EFAULT, "writing the PVH module list");
		si->nr_modules = htole32(1);
		si->modlist_paddr = htole64(PVH_MODLIST);
	}
	n = e820_build(m, map, PVH_MAX_MEMMAP);
	for (size_t i = 0; i < n; i++)
		mm[i] = (struct hvm_memmap_entry){ .addr = htole64(map[i].addr),
						   .size = htole64(map[i].size),
						   .type = htole32(map[i].type) };
	si->memmap_paddr = htole64(PVH_MEMMAP);
	si->memmap_entries = htole32((uint32_t)n);
	out->mode = BOOT_MODE_PVH;
	out->entry = entry;
	out->params = LAYOUT_PVH_INFO;
	return 0;
}
