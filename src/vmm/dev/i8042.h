#pragma once
/*
 * The i8042 keyboard controller at 0x60 (data) and 0x64 (status/command), IRQ 1, with a
 * keyboard behind it: enough of both for Linux's i8042 and atkbd drivers to bind (controller
 * self-test, CTR, port tests, keyboard reset/ID/LED/rate/enable commands), the CPU reset line
 * (command 0xfe, or bit 0 of the output port cleared), and one input: Ctrl-Alt-Del, which
 * hull presses to ask the guest to shut down (Linux's keyboard handler calls ctrl_alt_del():
 * init gets SIGINT, or the kernel restarts at once when init has not disabled C-A-D). The
 * same approach as Firecracker's SendCtrlAltDel.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

struct vm;
struct state_writer;
struct state_reader;

#define I8042_OUTQ 16
#define I8042_IRQ 1

/* What the guest can see (saved by i8042_save). */
struct i8042_state {
	uint8_t ctr;      /* controller configuration byte (command 0x20/0x60) */
	uint8_t pending;  /* controller command waiting for its data byte, 0 for none */
	uint8_t kbd_cmd;  /* keyboard command waiting for its parameter byte, 0 for none */
	uint8_t outp;     /* output port (bit 0: CPU reset line, active low) */
	uint8_t q[I8042_OUTQ];
	unsigned q_head, q_len;
};

/* The host's side (the VM, the lock, the test counters) around the guest's state. */
struct i8042 {
	struct vm *vm; /* NULL in unit tests: no interrupt, no reset */
	pthread_mutex_t lock;
	struct i8042_state st;
	bool reset;       /* the guest pulsed the reset line (unit tests read it) */
	unsigned irqs;    /* IRQ 1 pulses raised (unit tests) */
};

/* Registers the ports; ret is owned by the caller (i8042_free). */
int i8042_create(struct vm *vm, struct i8042 **ret, struct hull_err *err);
void i8042_free(struct i8042 *k);
void i8042_init(struct i8042 *k, struct vm *vm);
/* Back to the power-on state (the guest state only; the host side stays). */
void i8042_reset(struct i8042 *k);

/* Press and release Ctrl-Alt-Del (set 1 codes when the CTR asks for translation, else set 2). */
void i8042_ctrl_alt_del(struct i8042 *k);

/* Guest-visible state to/from the state stream (state.h); load: 0 or -EBADMSG, no change. */
void i8042_save(struct i8042 *k, struct state_writer *w);
int i8042_load(struct i8042 *k, struct state_reader *r);

/* Register access (bus.h io_handler_fn), exposed for unit tests. */
void i8042_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
