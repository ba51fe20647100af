/*
 * i8042 keyboard controller and keyboard (see i8042.h). Register model: the IBM PC/AT
 * technical reference and Linux drivers/input/serio/i8042.h (status, CTR and command bits);
 * the keyboard's replies: drivers/input/keyboard/atkbd.c and libps2.c.
 */
#include "vmm/dev/i8042.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "vmm/state.h"
#include "vmm/vm.h"

#define PORT_DATA 0
#define PORT_CMD 4

#define STR_OBF 0x01
#define STR_SYSFLAG 0x04
#define STR_CMDDAT 0x08
#define STR_KEYLOCK 0x10 /* 1: keyboard not inhibited */

#define CTR_KBDINT 0x01
#define CTR_SYSFLAG 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40

#define CMD_RCTR 0x20
#define CMD_WCTR 0x60
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE 0xa8
#define CMD_AUX_TEST 0xa9
#define CMD_CTL_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE 0xae
#define CMD_READ_OUTP 0xd0
#define CMD_WRITE_OUTP 0xd1
#define CMD_KBD_LOOP 0xd2
#define CMD_AUX_LOOP 0xd3
#define CMD_AUX_SEND 0xd4
#define CMD_PULSE_RESET 0xfe

#define KBD_ACK 0xfa
#define KBD_BAT_OK 0xaa
#define KBD_ECHO 0xee
#define KBD_SETLEDS 0xed
#define KBD_SCANSET 0xf0
#define KBD_GETID 0xf2
#define KBD_SETREP 0xf3
#define KBD_RESET 0xff

/* The power-on state, as firmware leaves it: keyboard interrupt on, translation on, mouse port off. */
static void i8042_state_init(struct i8042_state *st)
{
	memset(st, 0, sizeof(*st));
	st->ctr = CTR_KBDINT | CTR_SYSFLAG | CTR_AUXDIS | CTR_XLATE;
	st->outp = 0x01; /* reset line inactive */
}

void i8042_init(struct i8042 *k, struct vm *vm)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->vm = vm;
	i8042_state_init(&k->st);
}

void i8042_reset(struct i8042 *k)
{
	pthread_mutex_lock(&k->lock);
	i8042_state_init(&k->st);
	pthread_mutex_unlock(&k->lock);
}

/* Called with k->lock held. An edge on IRQ 1: the ISA line is edge-triggered. */
static void i8042_pulse(struct i8042 *k)
{
	if (!(k->st.ctr & CTR_KBDINT))
		return;
	k->irqs++;
	if (!k->vm)
		return;
	(void)vm_irq_line(k->vm, I8042_IRQ, true);
	(void)vm_irq_line(k->vm, I8042_IRQ, false);
}

/* Called with k->lock held: queue one byte for the data port; drops it when full. */
static void i8042_push(struct i8042 *k, uint8_t v)
{
	if (k->st.q_len == I8042_OUTQ)
		return;
	k->st.q[(k->st.q_head + k->st.q_len++) % I8042_OUTQ] = v;
	if (k->st.q_len == 1)
		i8042_pulse(k);
}

static void i8042_reset_line(struct i8042 *k)
{
	k->reset = true;
	if (k->vm)
		vm_request_stop(k->vm, VM_STOP_REBOOT, "i8042 reset");
}

static void i8042_command(struct i8042 *k, uint8_t cmd)
{
	k->st.pending = 0;
	switch (cmd) {
	case CMD_RCTR: i8042_push(k, k->st.ctr); break;
	case CMD_WCTR:
	case CMD_WRITE_OUTP:
	case CMD_KBD_LOOP:
	case CMD_AUX_LOOP:
	case CMD_AUX_SEND: k->st.pending = cmd; break;
	case CMD_AUX_DISABLE: k->st.ctr |= CTR_AUXDIS; break;
	case CMD_AUX_ENABLE: k->st.ctr &= (uint8_t)~CTR_AUXDIS; break;
	case CMD_AUX_TEST: i8042_push(k, 0x00); break;
	case CMD_CTL_TEST: i8042_push(k, 0x55); break;
	case CMD_KBD_TEST: i8042_push(k, 0x00); break;
	case CMD_KBD_DISABLE: k->st.ctr |= CTR_KBDDIS; break;
	case CMD_KBD_ENABLE: k->st.ctr &= (uint8_t)~CTR_KBDDIS; break;
	case CMD_READ_OUTP: i8042_push(k, k->st.outp); break;
	default:
		/* 0xf0-0xff pulse output port lines for a moment; bit 0 low is the reset line. */
		if (cmd >= 0xf0 && !(cmd & 1))
			i8042_reset_line(k);
		break;
	}
}

/* A byte the guest sends to the keyboard (through the data port with no command pending). */
static void i8042_kbd_write(struct i8042 *k, uint8_t v)
{
	bool xlate = k->st.ctr & CTR_XLATE;

	if (k->st.kbd_cmd) {
		/* The parameter of SETLEDS, SETREP or SCANSET; SCANSET 0 asks for the set. */
		i8042_push(k, KBD_ACK);
		if (k->st.kbd_cmd == KBD_SCANSET && v == 0)
			i8042_push(k, xlate ? 0x41 : 0x02); /* set 2 (translated: 0x41) */
		k->st.kbd_cmd = 0;
		return;
	}
	switch (v) {
	case KBD_SETLEDS:
	case KBD_SETREP:
	case KBD_SCANSET:
		k->st.kbd_cmd = v;
		i8042_push(k, KBD_ACK);
		break;
	case KBD_GETID:
		/* An MF2 keyboard: AB 83, which the controller translates to AB 41. */
		i8042_push(k, KBD_ACK);
		i8042_push(k, 0xab);
		i8042_push(k, xlate ? 0x41 : 0x83);
		break;
	case KBD_RESET:
		k->st.q_len = 0;
		i8042_push(k, KBD_ACK);
		i8042_push(k, KBD_BAT_OK);
		break;
	case KBD_ECHO:
		i8042_push(k, KBD_ECHO);
		break;
	default:
		/* enable, disable, defaults, typematic modes...: acknowledged, nothing to do */
		i8042_push(k, KBD_ACK);
		break;
	}
}

static void i8042_data_write(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->st.pending;

	k->st.pending = 0;
	switch (cmd) {
	case CMD_WCTR: k->st.ctr = v; break;
	case CMD_WRITE_OUTP:
		k->st.outp = v;
		if (!(v & 1))
			i8042_reset_line(k);
		break;
	case CMD_KBD_LOOP: i8042_push(k, v); break;
	case CMD_AUX_LOOP:
	case CMD_AUX_SEND: break; /* no mouse */
	default: i8042_kbd_write(k, v); break;
	}
}

static uint8_t i8042_data_read(struct i8042 *k)
{
	uint8_t v;

	if (!k->st.q_len)
		return 0;
	v = k->st.q[k->st.q_head];
	k->st.q_head = (k->st.q_head + 1) % I8042_OUTQ;
	k->st.q_len--;
	/* The next byte is in the output buffer at once: a new edge for it. */
	if (k->st.q_len)
		i8042_pulse(k);
	return v;
}

void i8042_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct i8042 *k = opaque;

	pthread_mutex_lock(&k->lock);
	if (off == PORT_DATA) {
		if (is_write)
			i8042_data_write(k, data[0]);
		else
			data[0] = i8042_data_read(k);
	} else if (off == PORT_CMD) {
		if (is_write)
			i8042_command(k, data[0]);
		else
			data[0] = (uint8_t)(STR_KEYLOCK | STR_SYSFLAG |
					    (k->st.pending ? STR_CMDDAT : 0) | (k->st.q_len ? STR_OBF : 0));
	} else if (!is_write) {
		memset(data, 0xff, len); /* 0x61-0x63 are not the controller's */
	}
	pthread_mutex_unlock(&k->lock);
}

void i8042_ctrl_alt_del(struct i8042 *k)
{
	/* Left Ctrl, left Alt, Delete (E0-prefixed) pressed, then released in reverse order. */
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71,
					0xf0, 0x11, 0xf0, 0x14 };
	const uint8_t *seq;
	size_t n;

	pthread_mutex_lock(&k->lock);
	if (k->st.ctr & CTR_XLATE) {
		seq = set1;
		n = sizeof(set1);
	} else {
		seq = set2;
		n = sizeof(set2);
	}
	for (size_t i = 0; i < n; i++)
		i8042_push(k, seq[i]);
	pthread_mutex_unlock(&k->lock);
}

int i8042_create(struct vm *vm, struct i8042 **ret, struct hull_err *err)
{
	struct i8042 *k = xmalloc(sizeof(*k));
	int e;

	i8042_init(k, vm);
	e = io_bus_add(&vm->pio, 0x60, 5, i8042_io, k);
	if (e < 0) {
		i8042_free(k);
		return hull_err_set(err, -e, "registering the i8042");
	}
	*ret = k;
	return 0;
}

void i8042_free(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

void i8042_save(struct i8042 *k, struct state_writer *w)
{
	pthread_mutex_lock(&k->lock);
	state_put_u8(w, k->st.ctr);
	state_put_u8(w, k->st.pending);
	state_put_u8(w, k->st.kbd_cmd);
	state_put_u8(w, k->st.outp);
	state_put_u8(w, (uint8_t)k->st.q_len);
	for (unsigned i = 0; i < k->st.q_len; i++)
		state_put_u8(w, k->st.q[(k->st.q_head + i) % I8042_OUTQ]);
	pthread_mutex_unlock(&k->lock);
}

int i8042_load(struct i8042 *k, struct state_reader *r)
{
	uint8_t reg[4], n = 0, q[I8042_OUTQ];

	if (state_get_bytes(r, reg, sizeof(reg)) < 0 || state_get_u8(r, &n) < 0 ||
	    n > I8042_OUTQ || state_get_bytes(r, q, n) < 0 || state_reader_done(r) < 0)
		return -EBADMSG;
	pthread_mutex_lock(&k->lock);
	k->st.ctr = reg[0];
	k->st.pending = reg[1];
	k->st.kbd_cmd = reg[2];
	k->st.outp = reg[3];
	memcpy(k->st.q, q, n);
	k->st.q_head = 0;
	k->st.q_len = n;
	pthread_mutex_unlock(&k->lock);
	return 0;
}
