#include "vmm/dev/legacy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "vmm/state.h"
#include "vmm/vm.h"
#include "vmm/x86/layout.h"

/* MC146818 registers (the data sheet; Linux include/linux/mc146818rtc.h). */
#define RTC_SECONDS 0x00
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_C 0x0c
#define RTC_REG_D 0x0d
#define RTC_CENTURY 0x32
#define RTC_B_DM_BINARY 0x04
#define RTC_B_24H 0x02
#define RTC_D_VRT 0x80

static uint8_t to_bcd(int v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

void rtc_init(struct rtc *r)
{
	memset(r, 0, sizeof(*r));
	r->cmos[RTC_REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz periodic rate; UIP clear */
	r->cmos[RTC_REG_B] = RTC_B_24H;
	r->cmos[RTC_REG_D] = RTC_D_VRT;
	r->now = time;
}

void rtc_reset(struct rtc *r)
{
	time_t (*now)(time_t *) = r->now;

	rtc_init(r);
	r->now = now;
}

static uint8_t rtc_read(struct rtc *r, uint8_t idx)
{
	time_t t = r->now(NULL);
	struct tm tm;
	int v;
	bool bin = r->cmos[RTC_REG_B] & RTC_B_DM_BINARY;

	(void)gmtime_r(&t, &tm);
	switch (idx) {
	case 0x00: v = tm.tm_sec; break;
	case 0x02: v = tm.tm_min; break;
	case 0x04: v = tm.tm_hour; break;
	case 0x06: v = tm.tm_wday + 1; break;
	case 0x07: v = tm.tm_mday; break;
	case 0x08: v = tm.tm_mon + 1; break;
	case 0x09: v = tm.tm_year % 100; break;
	case RTC_CENTURY: v = (tm.tm_year + 1900) / 100; break;
	case RTC_REG_C:
		return 0; /* no interrupt flags: the guest gets no RTC interrupts */
	default:
		return r->cmos[idx & 0x7f];
	}
	return bin ? (uint8_t)v : to_bcd(v);
}

void rtc_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct rtc *r = opaque;

	if (off == 0) {
		if (is_write)
			r->index = data[0] & 0x7f; /* bit 7 is the NMI mask */
		else
			data[0] = 0xff;
		return;
	}
	if (!is_write) {
		data[0] = rtc_read(r, r->index);
		return;
	}
	/* Time writes are ignored (the guest's clock follows the host's); keep the rest. */
	if (r->index == RTC_REG_B || r->index >= 0x0e)
		r->cmos[r->index] = data[0];
}

static void pm_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct vm *vm = opaque;
	uint8_t v = data[0];

	if (!is_write) {
		data[0] = 0;
		return;
	}
	if (off == PM_PORT_SLEEP_CTL - PM_PORT_BASE && (v & PM_SLP_EN)) {
		if (((v >> PM_SLP_TYP_SHIFT) & 7) == PM_S5_TYP)
			vm_request_stop(vm, VM_STOP_POWEROFF, "ACPI S5");
	} else if (off == PM_PORT_RESET - PM_PORT_BASE && v == PM_RESET_VALUE) {
		vm_request_stop(vm, VM_STOP_REBOOT, "ACPI reset");
	}
}

static void sink_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	if (!is_write)
		memset(data, 0, len);
}

int legacy_devices_create(struct vm *vm, struct rtc **ret_rtc, struct hull_err *err)
{
	struct rtc *r = xcalloc(1, sizeof(*r));
	int e;

	rtc_init(r);
	if ((e = io_bus_add(&vm->pio, 0x70, 2, rtc_io, r)) < 0 ||
	    (e = io_bus_add(&vm->pio, PM_PORT_BASE, PM_PORT_LEN, pm_io, vm)) < 0 ||
	    (e = io_bus_add(&vm->pio, 0x80, 1, sink_io, NULL)) < 0) {
		free(r);
		return hull_err_set(err, -e, "registering platform devices");
	}
	*ret_rtc = r;
	return 0;
}

void rtc_save(struct rtc *r, struct state_writer *w)
{
	state_put_u8(w, r->index);
	state_put_bytes(w, r->cmos, sizeof(r->cmos));
}

int rtc_load(struct rtc *r, struct state_reader *rd)
{
	uint8_t index = 0, cmos[sizeof(r->cmos)];

	/* The index is 7 bits (bit 7 of the port write is the NMI mask). */
	if (state_get_u8(rd, &index) < 0 || index > 0x7f ||
	    state_get_bytes(rd, cmos, sizeof(cmos)) < 0 || state_reader_done(rd) < 0)
		return -EBADMSG;
	r->index = index;
	memcpy(r->cmos, cmos, sizeof(cmos));
	return 0;
}
