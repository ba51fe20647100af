#pragma once
/*
 * Small platform devices: the MC146818 CMOS RTC (0x70/0x71), the ACPI hardware-reduced sleep/reset registers (x86/layout.h), and a sink
 * for port 0x80 (POST codes, Linux's I/O delay).
 */
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/error.h"

struct vm;
struct state_writer;
struct state_reader;

struct rtc {
	uint8_t index;
	uint8_t cmos[128];
	time_t (*now)(time_t *); /* time(), replaceable in tests */
};

int legacy_devices_create(struct vm *vm, struct rtc **ret_rtc, struct hull_err *err);

/* The RTC's index and CMOS bytes to/from the state stream; load: 0 or -EBADMSG, no change. */
void rtc_save(struct rtc *r, struct state_writer *w);
/* Back to the power-on index and CMOS bytes (the clock is the host's and keeps going). */
void rtc_reset(struct rtc *r);
int rtc_load(struct rtc *r, struct state_reader *rd);

/* Register access, exposed for unit tests. */
void rtc_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
void rtc_init(struct rtc *r);
