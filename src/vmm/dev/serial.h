#pragma once
/*
 * An 8250/16550A UART at 0x3f8, IRQ 4: enough of the chip for Linux's 8250 driver
 * (console polling and the interrupt-driven tty path) and for the tiny guest.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct vm;
struct serial;
struct state_writer;
struct state_reader;

#define SERIAL_PORT 0x3f8
#define SERIAL_IRQ 4

/* Output goes to out_fd (-1: dropped). Registers itself on vm->pio. */
int serial_create(struct vm *vm, int out_fd, struct serial **ret, struct hull_err *err);
void serial_free(struct serial *s);

/* Queue bytes typed on the host for the guest; returns how many were accepted. */
size_t serial_input(struct serial *s, const uint8_t *buf, size_t len);
/* True once the guest printed "Kernel panic - not syncing". */
bool serial_saw_panic(struct serial *s);

/* Guest-visible state to/from the state stream (state.h); load: 0 or -EBADMSG, no change. */
/* Back to the power-on registers, receive FIFO empty (the guest state only). */
void serial_reset(struct serial *s);
void serial_save(struct serial *s, struct state_writer *w);
int serial_load(struct serial *s, struct state_reader *r);

/* Register access, exposed for unit tests. */
void serial_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
