#include "vmm/dev/serial.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fd.h"
#include "vmm/state.h"
#include "vmm/vm.h"

/* Register offsets and bits (the 16550A data sheet; Linux include/uapi/linux/serial_reg.h). */
#define UART_RX 0
#define UART_IER 1
#define UART_IIR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7
#define IER_RDI 0x01
#define IER_THRI 0x02
#define IIR_NO_INT 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO 0xc0
#define FCR_FIFO_ENABLE 0x01
#define FCR_CLEAR_RCVR 0x02
#define LCR_DLAB 0x80
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_DCD 0x80

#define SERIAL_RX_SIZE 1024
#define PANIC_MARK "Kernel panic - not syncing"

/* What the guest can see: the registers and the receive FIFO (saved by serial_save). */
struct serial_state {
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	bool thri_pending; /* THR-empty interrupt armed, cleared by an IIR read */
	uint8_t rx[SERIAL_RX_SIZE];
	size_t rx_head, rx_len;
};

/* The host's side: the VM to interrupt, the lock, where output goes, the panic watch. */
struct serial {
	struct vm *vm;
	pthread_mutex_t lock;
	int out_fd;
	bool irq_level; /* the level last driven on IRQ 4: follows from st */
	struct serial_state st;
	char line[160]; /* the current output line, to spot a kernel panic */
	size_t line_len;
	bool panic;
};

static uint8_t serial_iir(const struct serial *s)
{
	uint8_t fifo = (s->st.fcr & FCR_FIFO_ENABLE) ? IIR_FIFO : 0;

	if ((s->st.ier & IER_RDI) && s->st.rx_len)
		return fifo | IIR_RDI;
	if ((s->st.ier & IER_THRI) && s->st.thri_pending)
		return fifo | IIR_THRI;
	return fifo | IIR_NO_INT;
}

/* Called with s->lock held: drive IRQ 4 from the interrupt state (a level line via OUT2). */
static void serial_update_irq(struct serial *s)
{
	bool level = !(serial_iir(s) & IIR_NO_INT);

	if (level == s->irq_level || !s->vm)
		return;
	s->irq_level = level;
	(void)vm_irq_line(s->vm, SERIAL_IRQ, level);
}

static void serial_out(struct serial *s, uint8_t c)
{
	if (s->st.mcr & MCR_LOOP) {
		if (s->st.rx_len < SERIAL_RX_SIZE)
			s->st.rx[(s->st.rx_head + s->st.rx_len++) % SERIAL_RX_SIZE] = c;
		return;
	}
	if (s->vm && !atomic_load_explicit(&s->vm->first_output_ns, memory_order_relaxed))
		atomic_store_explicit(&s->vm->first_output_ns, vm_now_ns(), memory_order_relaxed);
	if (s->out_fd >= 0)
		(void)fd_write_all(s->out_fd, &c, 1);
	if (c == '\n' || s->line_len + 1 >= sizeof(s->line)) {
		s->line[s->line_len] = '\0';
		if (strstr(s->line, PANIC_MARK))
			s->panic = true;
		s->line_len = 0;
	} else {
		s->line[s->line_len++] = (char)c;
		s->line[s->line_len] = '\0';
		if (strstr(s->line, PANIC_MARK))
			s->panic = true;
	}
}

static void serial_write_reg(struct serial *s, uint64_t off, uint8_t v)
{
	switch (off) {
	case UART_RX:
		if (s->st.lcr & LCR_DLAB) {
			s->st.dll = v;
			break;
		}
		serial_out(s, v);
		/* The byte left at once: THR is empty again. */
		s->st.thri_pending = true;
		break;
	case UART_IER:
		if (s->st.lcr & LCR_DLAB) {
			s->st.dlm = v;
			break;
		}
		/* Enabling THRI with an empty THR raises the interrupt (what Linux waits for). */
		if (!(s->st.ier & IER_THRI) && (v & IER_THRI))
			s->st.thri_pending = true;
		s->st.ier = v & 0x0f;
		break;
	case UART_IIR: /* FCR */
		s->st.fcr = v & (FCR_FIFO_ENABLE | 0xc0);
		if (v & FCR_CLEAR_RCVR)
			s->st.rx_len = 0;
		break;
	case UART_LCR:
		s->st.lcr = v;
		break;
	case UART_MCR:
		s->st.mcr = v & 0x1f;
		break;
	case UART_SCR:
		s->st.scr = v;
		break;
	default:
		break; /* LSR, MSR: read-only */
	}
}

static uint8_t serial_read_reg(struct serial *s, uint64_t off)
{
	uint8_t v = 0;

	switch (off) {
	case UART_RX:
		if (s->st.lcr & LCR_DLAB)
			return s->st.dll;
		if (s->st.rx_len) {
			v = s->st.rx[s->st.rx_head];
			s->st.rx_head = (s->st.rx_head + 1) % SERIAL_RX_SIZE;
			s->st.rx_len--;
		}
		return v;
	case UART_IER:
		return (s->st.lcr & LCR_DLAB) ? s->st.dlm : s->st.ier;
	case UART_IIR:
		v = serial_iir(s);
		if ((v & 0x0f) == IIR_THRI)
			s->st.thri_pending = false; /* reading IIR acknowledges THRI */
		return v;
	case UART_LCR:
		return s->st.lcr;
	case UART_MCR:
		return s->st.mcr;
	case UART_LSR:
		return (uint8_t)(LSR_THRE | LSR_TEMT | (s->st.rx_len ? LSR_DR : 0));
	case UART_MSR:
		if (s->st.mcr & MCR_LOOP) /* loopback: outputs appear on the inputs */
			return (uint8_t)(((s->st.mcr & 0x02) << 3) | ((s->st.mcr & 0x01) << 5) |
					 ((s->st.mcr & 0x08) << 4) | ((s->st.mcr & 0x04) << 4));
		return MSR_CTS | MSR_DSR | MSR_DCD;
	case UART_SCR:
		return s->st.scr;
	default:
		return 0xff;
	}
}

void serial_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct serial *s = opaque;

	if (off >= 8)
		return;
	pthread_mutex_lock(&s->lock);
	/* Wider accesses touch the first register only: the UART is byte-wide. */
	if (is_write)
		serial_write_reg(s, off, data[0]);
	else {
		memset(data, 0, len);
		data[0] = serial_read_reg(s, off);
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

size_t serial_input(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && s->st.rx_len < SERIAL_RX_SIZE) {
		s->st.rx[(s->st.rx_head + s->st.rx_len) % SERIAL_RX_SIZE] = buf[n++];
		s->st.rx_len++;
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

bool serial_saw_panic(struct serial *s)
{
	bool p;

	if (!s)
		return false;
	pthread_mutex_lock(&s->lock);
	p = s->panic;
	pthread_mutex_unlock(&s->lock);
	return p;
}

int serial_create(struct vm *vm, int out_fd, struct serial **ret, struct hull_err *err)
{
	struct serial *s = xcalloc(1, sizeof(*s));
	int r;

	s->vm = vm;
	s->out_fd = out_fd;
	s->st.mcr = MCR_OUT2;
	pthread_mutex_init(&s->lock, NULL);
	if (vm) {
		r = io_bus_add(&vm->pio, SERIAL_PORT, 8, serial_io, s);
		if (r < 0) {
			serial_free(s);
			return hull_err_set(err, -r, "serial port 0x%x", SERIAL_PORT);
		}
	}
	*ret = s;
	return 0;
}

void serial_reset(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	memset(&s->st, 0, sizeof(s->st));
	s->st.mcr = MCR_OUT2; /* as serial_create leaves it */
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

void serial_free(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The UART's registers and the input the guest has not read (the panic watch is host state). */
void serial_save(struct serial *s, struct state_writer *w)
{
	pthread_mutex_lock(&s->lock);
	state_put_u8(w, s->st.ier);
	state_put_u8(w, s->st.lcr);
	state_put_u8(w, s->st.mcr);
	state_put_u8(w, s->st.scr);
	state_put_u8(w, s->st.fcr);
	state_put_u8(w, s->st.dll);
	state_put_u8(w, s->st.dlm);
	state_put_u8(w, s->st.thri_pending);
	state_put_u16(w, (uint16_t)s->st.rx_len);
	for (size_t i = 0; i < s->st.rx_len; i++)
		state_put_u8(w, s->st.rx[(s->st.rx_head + i) % SERIAL_RX_SIZE]);
	pthread_mutex_unlock(&s->lock);
}

int serial_load(struct serial *s, struct state_reader *r)
{
	uint8_t reg[7], rx[SERIAL_RX_SIZE];
	uint16_t rx_len = 0;
	bool thri = false;

	if (state_get_bytes(r, reg, sizeof(reg)) < 0 || state_get_bool(r, &thri) < 0 ||
	    state_get_u16(r, &rx_len) < 0 || rx_len > SERIAL_RX_SIZE ||
	    state_get_bytes(r, rx, rx_len) < 0 || state_reader_done(r) < 0 || (reg[0] & ~0x0fU))
		return -EBADMSG; /* IER keeps 4 bits (serial_io) */
	pthread_mutex_lock(&s->lock);
	s->st.ier = reg[0];
	s->st.lcr = reg[1];
	s->st.mcr = reg[2];
	s->st.scr = reg[3];
	s->st.fcr = reg[4];
	s->st.dll = reg[5];
	s->st.dlm = reg[6];
	s->st.thri_pending = thri;
	memcpy(s->st.rx, rx, rx_len);
	s->st.rx_head = 0;
	s->st.rx_len = rx_len;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
