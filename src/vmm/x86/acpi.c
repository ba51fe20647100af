#include "vmm/x86/acpi.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "vmm/hotplug.h"
#include "vmm/x86/layout.h"

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_header) == 36, "ACPI header");

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t ext_checksum;
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");

/* Generic Address Structure (ACPI 6.4 5.2.3.2). */
struct acpi_gas {
	uint8_t space_id; /* 1: system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size; /* 1: byte */
	uint64_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS");

/* FADT, revision 6 (ACPI 6.4 5.2.9, table 5.9). */
struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk, pm2_cnt_blk, pm_tmr_blk;
	uint32_t gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len, gpe0_blk_len, gpe1_blk_len;
	uint8_t gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control_reg, sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT");

#define FADT_F_PWR_BUTTON (1U << 4)
#define FADT_F_SLP_BUTTON (1U << 5)
#define FADT_F_RESET_REG_SUP (1U << 10)
#define FADT_F_HW_REDUCED_ACPI (1U << 20)
#define FADT_BOOT_VGA_NOT_PRESENT (1U << 2)
#define FADT_BOOT_ASPM_DISABLED (1U << 4)

struct madt_lapic {
	uint8_t type; /* 0 */
	uint8_t length;
	uint8_t uid;
	uint8_t apic_id;
	uint32_t flags; /* bit 0: enabled */
} __attribute__((packed));
_Static_assert(sizeof(struct madt_lapic) == 8, "MADT LAPIC");

struct madt_ioapic {
	uint8_t type; /* 1 */
	uint8_t length;
	uint8_t id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT IOAPIC");

/* Table placement inside [LAYOUT_ACPI, LAYOUT_ACPI_END). */
#define ACPI_XSDT_OFF 0x40
#define ACPI_FADT_OFF 0x100
#define ACPI_DSDT_OFF 0x300
#define ACPI_MADT_OFF 0x1000 /* after a DSDT with the hot-plug slots (~2 KiB) */

uint8_t acpi_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + b[i]);
	return s;
}

static void acpi_header_init(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = htole32(len);
	h->revision = rev;
	memcpy(h->oem_id, "HULL  ", 6);
	memcpy(h->oem_table_id, "HULLVMM ", 8);
	h->oem_revision = htole32(1);
	memcpy(h->creator_id, "HULL", 4);
	h->creator_revision = htole32(1);
	h->checksum = 0;
}

static void acpi_header_sum(struct acpi_header *h)
{
	h->checksum = (uint8_t)(0 - acpi_checksum(h, le32toh(h->length)));
}

/* AML PkgLength (ACPI 6.4 20.2.4): the encoded length counts its own bytes. */
static size_t aml_pkglen(uint8_t *out, size_t body)
{
	size_t total;

	if (body + 1 <= 63) {
		out[0] = (uint8_t)(body + 1);
		return 1;
	}
	total = body + 2;
	if (total <= 0xfff) {
		out[0] = (uint8_t)(0x40 | (total & 0xf));
		out[1] = (uint8_t)(total >> 4);
		return 2;
	}
	total = body + 3;
	out[0] = (uint8_t)(0x80 | (total & 0xf));
	out[1] = (uint8_t)(total >> 4);
	out[2] = (uint8_t)(total >> 12);
	return 3;
}

/* Emit prefix bytes, a PkgLength and body. Returns bytes written. */
static size_t aml_wrap(uint8_t *out, const uint8_t *prefix, size_t plen, const uint8_t *body,
		       size_t blen)
{
	size_t n;

	memcpy(out, prefix, plen);
	n = plen + aml_pkglen(out + plen, blen);
	memmove(out + n, body, blen);
	return n + blen;
}

/*
 * The PCI root bridge's resources (ACPI 6.4 6.4): bus 0, the conf1 ports, all other ports,
 * and the 32-bit MMIO window [3 GiB, IOAPIC).
 */
static const uint8_t pci0_crs[] = {
	/* WordBusNumber 0..0 */
	0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0x00, 0x00, 0x00, 0x00, 0, 0, 0x01, 0x00,
	/* IO decode16 0xcf8, len 8 */
	0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08,
	/* WordIO 0x0000..0x0cf7 */
	0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x00, 0xf7, 0x0c, 0, 0, 0xf8, 0x0c,
	/* WordIO 0x0d00..0xffff */
	0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x0d, 0xff, 0xff, 0, 0, 0x00, 0xf3,
	/* DWordMemory 0xc0000000..0xfebfffff, read-write */
	0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xbf,
	0xfe, 0, 0, 0, 0, 0x00, 0x00, 0xc0, 0x3e,
	/* EndTag */
	0x79, 0x00,
};

/*
 * The UART and the RTC as ACPI devices with their ports and ISA interrupts: in
 * hardware-reduced mode Linux has no legacy PIC and maps ISA IRQs to GSIs only for devices
 * that declare them (8250_pnp, rtc_cmos bind to these).
 */
static const uint8_t com1_hid[] = { 0x41, 0xd0, 0x05, 0x01 }; /* PNP0501 */
static const uint8_t com1_crs[] = {
	0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, /* IO 0x3f8, 8 ports */
	0x22, 0x10, 0x00,                               /* IRQNoFlags {4} */
	0x79, 0x00,
};
static const uint8_t rtc_hid[] = { 0x41, 0xd0, 0x0b, 0x00 }; /* PNP0B00 */
static const uint8_t rtc_crs[] = {
	0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01, 0x02, /* IO 0x70, 2 ports */
	0x22, 0x00, 0x01,                               /* IRQNoFlags {8} */
	0x79, 0x00,
};

/* The i8042 (PNP0303): Linux's i8042 driver binds only to a declared controller here. */
static const uint8_t kbd_hid[] = { 0x41, 0xd0, 0x03, 0x03 }; /* PNP0303 */
static const uint8_t kbd_crs[] = {
	0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01, /* IO 0x60, 1 port (data) */
	0x47, 0x01, 0x64, 0x00, 0x64, 0x00, 0x01, 0x01, /* IO 0x64, 1 port (status/command) */
	0x22, 0x02, 0x00,                               /* IRQNoFlags {1} */
	0x79, 0x00,
};

/* Device(name) { Name(_HID, EisaId(hid)) Name(_CRS, Buffer() { crs }) }; returns length. */
static size_t isa_device(uint8_t *out, const char *name, const uint8_t *hid, const uint8_t *crs,
			 size_t crs_len)
{
	static const uint8_t dev_op[] = { 0x5b, 0x82 };
	static const uint8_t buffer_op[] = { 0x11 };
	uint8_t body[128], buf[64];
	size_t n = 0;

	memcpy(body, name, 4);
	n = 4;
	memcpy(body + n, (const uint8_t[]){ 0x08, '_', 'H', 'I', 'D', 0x0c }, 6);
	n += 6;
	memcpy(body + n, hid, 4);
	n += 4;
	memcpy(body + n, (const uint8_t[]){ 0x08, '_', 'C', 'R', 'S' }, 5);
	n += 5;
	buf[0] = 0x0a;
	buf[1] = (uint8_t)crs_len;
	memcpy(buf + 2, crs, crs_len);
	n += aml_wrap(body + n, buffer_op, 1, buf, crs_len + 2);
	return aml_wrap(out, dev_op, 2, body, n);
}

/* Name(name, "str"): a string object. Returns its length. */
static size_t aml_name_str(uint8_t *out, const char *name, const char *str)
{
	size_t len = strlen(str) + 1;

	out[0] = 0x08; /* NameOp */
	memcpy(out + 1, name, 4);
	out[5] = 0x0d; /* StringPrefix */
	memcpy(out + 6, str, len);
	return 6 + len;
}

/*
 * The VM generation ID (dev/vmgenid.c, Linux's drivers/virt/vmgenid.c binds on the _CID,
 * which ACPICA upper-cases):
 *   Device(VGEN) { _HID "HULLVGID", _CID and _DDN "VM_Gen_Counter", _STA 0x0F,
 *                  Name(ADDR, Package() { low 32 bits, high 32 bits of the GUID's address }) }
 * and the generic event device that delivers its notify on a hardware-reduced platform:
 *   Device(GED0) { _HID "ACPI0013", _UID 0,
 *                  _CRS Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) { GSI },
 *                  Method(_EVT, 1) { If (Arg0 == GSI) { Notify(\_SB.VGEN, 0x80) } } }
 * The GED's second interrupt is the PCI hot-plug controller's (hotplug.h): its _EVT also has
 *                  If (Arg0 == PCIHP_GSI) { \_SB.PCI0.PCNT() }
 */
static size_t vmgenid_devices(uint8_t *out)
{
	static const uint8_t dev_op[] = { 0x5b, 0x82 };
	const uint32_t lo = (uint32_t)LAYOUT_VMGENID, hi = (uint32_t)(LAYOUT_VMGENID >> 32);
	const uint8_t addr[] = { 0x02, 0x0c, (uint8_t)lo, (uint8_t)(lo >> 8), (uint8_t)(lo >> 16),
				 (uint8_t)(lo >> 24), 0x0c, (uint8_t)hi, (uint8_t)(hi >> 8),
				 (uint8_t)(hi >> 16), (uint8_t)(hi >> 24) };
	const uint8_t crs[] = { 0x0a, 20, 0x89, 0x06, 0x00, 0x03, 0x01, VMGENID_GED_GSI, 0, 0, 0,
				0x89, 0x06, 0x00, 0x03, 0x01, PCIHP_GSI, 0, 0, 0, /* hotplug.h */
				0x79, 0x00 };
	const uint8_t evt_if[] = { 0x93, 0x68, 0x0a, VMGENID_GED_GSI, /* LEqual(Arg0, GSI) */
				   0x86, 0x5c, 0x2e, '_', 'S', 'B', '_', 'V', 'G', 'E', 'N',
				   0x0a, 0x80 }; /* Notify(\_SB.VGEN, 0x80) */
	const uint8_t hp_if[] = { 0x93, 0x68, 0x0a, PCIHP_GSI, /* LEqual(Arg0, PCIHP_GSI) */
				  0x5c, 0x2f, 0x03, '_', 'S', 'B', '_', 'P', 'C', 'I', '0',
				  'P', 'C', 'N', 'T' }; /* \_SB.PCI0.PCNT() */
	uint8_t body[192], evt[96];
	size_t n, e, len;

	memcpy(body, "VGEN", 4);
	n = 4 + aml_name_str(body + 4, "_HID", "HULLVGID");
	n += aml_name_str(body + n, "_CID", "VM_Gen_Counter");
	n += aml_name_str(body + n, "_DDN", "VM_Gen_Counter");
	memcpy(body + n, (const uint8_t[]){ 0x08, '_', 'S', 'T', 'A', 0x0a, 0x0f }, 7);
	n += 7;
	memcpy(body + n, (const uint8_t[]){ 0x08, 'A', 'D', 'D', 'R' }, 5);
	n += 5;
	n += aml_wrap(body + n, (const uint8_t[]){ 0x12 }, 1, addr, sizeof(addr));
	len = aml_wrap(out, dev_op, 2, body, n);

	memcpy(body, "GED0", 4);
	n = 4 + aml_name_str(body + 4, "_HID", "ACPI0013");
	memcpy(body + n, (const uint8_t[]){ 0x08, '_', 'U', 'I', 'D', 0x00 }, 6);
	n += 6;
	memcpy(body + n, (const uint8_t[]){ 0x08, '_', 'C', 'R', 'S' }, 5);
	n += 5;
	n += aml_wrap(body + n, (const uint8_t[]){ 0x11 }, 1, crs, sizeof(crs));
	memcpy(evt, "_EVT\x01", 5); /* one argument, not serialized */
	e = 5 + aml_wrap(evt + 5, (const uint8_t[]){ 0xa0 }, 1, evt_if, sizeof(evt_if));
	e += aml_wrap(evt + e, (const uint8_t[]){ 0xa0 }, 1, hp_if, sizeof(hp_if));
	n += aml_wrap(body + n, (const uint8_t[]){ 0x14 }, 1, evt, e);
	return len + aml_wrap(out + len, dev_op, 2, body, n);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

/*
 * A hot-plug slot (hotplug.h) under PCI0: Linux's acpiphp makes a slot of every child with
 * _ADR and _EJ0 and, on a Notify, scans it (1: device check) or ejects it (3: eject request).
 *   Device (SLxx) { Name (_ADR, slot << 16) Name (_SUN, slot)
 *                   Method (_EJ0, 1) { Store (1 << slot, PCEJ) } }
 */
static size_t pcihp_slot(uint8_t *out, unsigned slot)
{
	static const char hex[] = "0123456789ABCDEF";
	uint8_t body[64], m[32];
	size_t n = 0, k = 0;

	body[n++] = 'S';
	body[n++] = 'L';
	body[n++] = (uint8_t)hex[slot >> 4];
	body[n++] = (uint8_t)hex[slot & 15];
	memcpy(body + n, "\x08_ADR\x0c", 6);
	put_le32(body + n + 6, slot << 16);
	n += 10;
	memcpy(body + n, "\x08_SUN\x0a", 6);
	body[n + 6] = (uint8_t)slot;
	n += 7;
	memcpy(m, "_EJ0\x01\x70\x0c", 7); /* one argument; Store (DWordConst, */
	put_le32(m + 7, 1U << slot);
	memcpy(m + 11, "PCEJ", 4); /* PCEJ) */
	k = 15;
	n += aml_wrap(body + n, (const uint8_t[]){ 0x14 }, 1, m, k);
	return aml_wrap(out, (const uint8_t[]){ 0x5b, 0x82 }, 2, body, n);
}

/*
 * The controller's registers and the method the GED calls:
 *   OperationRegion (PCHP, SystemIO, PCIHP_PORT, 16)
 *   Field (PCHP, DWordAcc, NoLock, Preserve) { PCIU, 32, PCID, 32, PCEJ, 32 }
 *   Method (PCNT, 0, Serialized) { Local0 = PCIU  Local1 = PCID
 *     If (Local0 & (1 << s)) { Notify (SLxx, 1) }  If (Local1 & (1 << s)) { Notify (SLxx, 3) }
 *     ... for every slot }
 * Reading PCIU clears it: an insertion is announced once.
 */
static size_t pcihp_aml(uint8_t *out)
{
	static const uint8_t region[] = { 0x5b, 0x80, 'P', 'C', 'H', 'P', 0x01, 0x0b,
					  PCIHP_PORT & 0xff, PCIHP_PORT >> 8, 0x0a, PCIHP_PORT_LEN };
	static const uint8_t fields[] = { 'P', 'C', 'H', 'P', 0x03, 'P', 'C', 'I', 'U', 0x20,
					  'P', 'C', 'I', 'D', 0x20, 'P', 'C', 'E', 'J', 0x20 };
	uint8_t m[PCIHP_NUM_SLOTS * 40 + 32];
	size_t n = 0, k = 0;

	memcpy(out, region, sizeof(region));
	n = sizeof(region);
	n += aml_wrap(out + n, (const uint8_t[]){ 0x5b, 0x81 }, 2, fields, sizeof(fields));
	for (unsigned s = PCIHP_FIRST_SLOT; s < PCIHP_FIRST_SLOT + PCIHP_NUM_SLOTS; s++)
		n += pcihp_slot(out + n, s);
	memcpy(m, "PCNT\x08\x70PCIU\x60\x70PCID\x61", 17);
	k = 17;
	for (unsigned s = PCIHP_FIRST_SLOT; s < PCIHP_FIRST_SLOT + PCIHP_NUM_SLOTS; s++)
		for (unsigned local = 0; local < 2; local++) {
			uint8_t c[16];

			c[0] = 0x7b; /* And (LocalN, DWordConst, no target) */
			c[1] = (uint8_t)(0x60 + local);
			c[2] = 0x0c;
			put_le32(c + 3, 1U << s);
			c[7] = 0x00;
			c[8] = 0x86; /* Notify (SLxx, 1 or 3) */
			memcpy(c + 9, "SL", 2);
			c[11] = (uint8_t)"0123456789ABCDEF"[s >> 4];
			c[12] = (uint8_t)"0123456789ABCDEF"[s & 15];
			c[13] = 0x0a;
			c[14] = local ? 3 : 1;
			k += aml_wrap(m + k, (const uint8_t[]){ 0xa0 }, 1, c, 15);
		}
	return n + aml_wrap(out + n, (const uint8_t[]){ 0x14 }, 1, m, k);
}

/*
 * DSDT body: \_S5 and \_SB.PCI0, \_SB.COM1, \_SB.RTC, \_SB.PS2K, \_SB.VGEN, \_SB.GED0.
 * Returns its length.
 */
static size_t dsdt_body(uint8_t *out)
{
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04,
				      0x0a, 0x05, 0x00, 0x00, 0x00 };
	static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03 };
	static const uint8_t uid[] = { 0x08, '_', 'U', 'I', 'D', 0x00 };
	static const uint8_t crs_name[] = { 0x08, '_', 'C', 'R', 'S' };
	static const uint8_t buffer_op[] = { 0x11 };
	static const uint8_t dev_op[] = { 0x5b, 0x82 };
	static const uint8_t scope_op[] = { 0x10 };
	uint8_t crs_body[sizeof(pci0_crs) + 2], dev_body[2048], scope_body[3072];
	size_t n = 0, d = 0, s = 0;

	memcpy(out, s5, sizeof(s5));
	n = sizeof(s5);
	/* Buffer(len) { bytes }: BufferSize is a ByteConst. */
	crs_body[0] = 0x0a;
	crs_body[1] = (uint8_t)sizeof(pci0_crs);
	memcpy(crs_body + 2, pci0_crs, sizeof(pci0_crs));
	memcpy(dev_body, "PCI0", 4);
	d = 4;
	memcpy(dev_body + d, hid, sizeof(hid));
	d += sizeof(hid);
	memcpy(dev_body + d, uid, sizeof(uid));
	d += sizeof(uid);
	memcpy(dev_body + d, crs_name, sizeof(crs_name));
	d += sizeof(crs_name);
	d += aml_wrap(dev_body + d, buffer_op, 1, crs_body, sizeof(crs_body));
	d += pcihp_aml(dev_body + d);
	memcpy(scope_body, "_SB_", 4);
	s = 4;
	s += aml_wrap(scope_body + s, dev_op, 2, dev_body, d);
	s += isa_device(scope_body + s, "COM1", com1_hid, com1_crs, sizeof(com1_crs));
	s += isa_device(scope_body + s, "RTC_", rtc_hid, rtc_crs, sizeof(rtc_crs));
	s += isa_device(scope_body + s, "PS2K", kbd_hid, kbd_crs, sizeof(kbd_crs));
	s += vmgenid_devices(scope_body + s);
	n += aml_wrap(out + n, scope_op, 1, scope_body, s);
	return n;
}

int acpi_build(const struct guest_mem *m, unsigned ncpus, uint64_t *ret_rsdp)
{
	uint8_t *base = gmem_ptr(m, LAYOUT_ACPI, LAYOUT_ACPI_END - LAYOUT_ACPI);
	struct acpi_rsdp *rsdp;
	struct acpi_header *xsdt, *dsdt, *madt;
	struct acpi_fadt *fadt;
	uint64_t xsdt_entries[2];
	uint8_t *p;
	size_t dlen, madt_len;
	const struct acpi_gas sleep_ctl = { 1, 8, 0, 1, htole64(PM_PORT_SLEEP_CTL) };
	const struct acpi_gas sleep_sts = { 1, 8, 0, 1, htole64(PM_PORT_SLEEP_STS) };
	const struct acpi_gas reset = { 1, 8, 0, 1, htole64(PM_PORT_RESET) };

	if (!base)
		return -EFAULT;
	madt_len = sizeof(struct acpi_header) + 8 + sizeof(struct madt_ioapic) +
		   ncpus * sizeof(struct madt_lapic);
	if (ncpus == 0 || ncpus > 254 || ACPI_MADT_OFF + madt_len > LAYOUT_ACPI_END - LAYOUT_ACPI)
		return -ENOSPC;
	memset(base, 0, LAYOUT_ACPI_END - LAYOUT_ACPI);

	/* DSDT */
	dsdt = (struct acpi_header *)(base + ACPI_DSDT_OFF);
	dlen = dsdt_body((uint8_t *)(dsdt + 1));
	if (ACPI_DSDT_OFF + sizeof(*dsdt) + dlen > ACPI_MADT_OFF)
		return -ENOSPC;
	acpi_header_init(dsdt, "DSDT", (uint32_t)(sizeof(*dsdt) + dlen), 2);
	acpi_header_sum(dsdt);

	/* FADT */
	fadt = (struct acpi_fadt *)(base + ACPI_FADT_OFF);
	acpi_header_init(&fadt->h, "FACP", sizeof(*fadt), 6);
	fadt->x_dsdt = htole64(LAYOUT_ACPI + ACPI_DSDT_OFF);
	fadt->flags = htole32(FADT_F_HW_REDUCED_ACPI | FADT_F_RESET_REG_SUP | FADT_F_PWR_BUTTON |
			      FADT_F_SLP_BUTTON);
	fadt->iapc_boot_arch = htole16(FADT_BOOT_VGA_NOT_PRESENT | FADT_BOOT_ASPM_DISABLED);
	fadt->reset_reg = reset;
	fadt->reset_value = PM_RESET_VALUE;
	fadt->sleep_control_reg = sleep_ctl;
	fadt->sleep_status_reg = sleep_sts;
	memcpy(&fadt->hypervisor_vendor_id, "HULLVMM", 8);
	acpi_header_sum(&fadt->h);

	/* MADT (ACPI 6.4 5.2.12): local APIC address, PCAT_COMPAT, IOAPIC, one LAPIC per vCPU. */
	madt = (struct acpi_header *)(base + ACPI_MADT_OFF);
	acpi_header_init(madt, "APIC", (uint32_t)madt_len, 4);
	p = (uint8_t *)(madt + 1);
	memcpy(p, &(uint32_t){ htole32(ACPI_LAPIC_ADDR) }, 4);
	memcpy(p + 4, &(uint32_t){ htole32(1) }, 4); /* PCAT_COMPAT */
	p += 8;
	*(struct madt_ioapic *)p = (struct madt_ioapic){
		.type = 1, .length = sizeof(struct madt_ioapic), .id = (uint8_t)ncpus,
		.address = htole32(ACPI_IOAPIC_ADDR), .gsi_base = 0,
	};
	p += sizeof(struct madt_ioapic);
	for (unsigned i = 0; i < ncpus; i++, p += sizeof(struct madt_lapic))
		*(struct madt_lapic *)p = (struct madt_lapic){
			.type = 0, .length = sizeof(struct madt_lapic), .uid = (uint8_t)i,
			.apic_id = (uint8_t)i, .flags = htole32(1),
		};
	acpi_header_sum(madt);

	/* XSDT */
	xsdt = (struct acpi_header *)(base + ACPI_XSDT_OFF);
	acpi_header_init(xsdt, "XSDT", sizeof(*xsdt) + 2 * 8, 1);
	/* XSDT entries sit at offset 36: not 8-byte aligned. */
	xsdt_entries[0] = htole64(LAYOUT_ACPI + ACPI_FADT_OFF);
	xsdt_entries[1] = htole64(LAYOUT_ACPI + ACPI_MADT_OFF);
	memcpy(xsdt + 1, xsdt_entries, sizeof(xsdt_entries));
	acpi_header_sum(xsdt);

	/* RSDP, revision 2 (ACPI 6.4 5.2.5.3) */
	rsdp = (struct acpi_rsdp *)base;
	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, "HULL  ", 6);
	rsdp->revision = 2;
	rsdp->length = htole32(sizeof(*rsdp));
	rsdp->xsdt_address = htole64(LAYOUT_ACPI + ACPI_XSDT_OFF);
	rsdp->checksum = (uint8_t)(0 - acpi_checksum(rsdp, 20));
	rsdp->ext_checksum = (uint8_t)(0 - acpi_checksum(rsdp, sizeof(*rsdp)));
	*ret_rsdp = LAYOUT_ACPI;
	return 0;
}
