#include "vmm/dev/serial.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fd.h"
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

struct serial {
	struct vm *vm;
	pthread_mutex_t lock;
	int out_fd;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	bool thri_pending; /* THR-empty interrupt armed, cleared by an IIR read */
	bool irq_level;
	uint8_t rx[SERIAL_RX_SIZE];
	size_t rx_head, rx_len;
	char line[160]; /* the current output line, to spot a kernel panic */
	size_t line_len;
	bool panic;
};

static uint8_t serial_iir(const struct serial *s)
{
	uint8_t fifo = (s->fcr & FCR_FIFO_ENABLE) ? IIR_FIFO : 0;

	if ((s->ier & IER_RDI) && s->rx_len)
		return fifo | IIR_RDI;
	if ((s->ier & IER_THRI) && s->thri_pending)
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
	if (s->mcr & MCR_LOOP) {
		if (s->rx_len < SERIAL_RX_SIZE)
			s->rx[(s->rx_head + s->rx_len++) % SERIAL_RX_SIZE] = c;
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
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
			break;
		}
		serial_out(s, v);
		/* The byte left at once: THR is empty again. */
		s->thri_pending = true;
		break;
	case UART_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			break;
		}
		/* Enabling THRI with an empty THR raises the interrupt (what Linux waits for). */
		if (!(s->ier & IER_THRI) && (v & IER_THRI))
			s->thri_pending = true;
		s->ier = v & 0x0f;
		break;
	case UART_IIR: /* FCR */
		s->fcr = v & (FCR_FIFO_ENABLE | 0xc0);
		if (v & FCR_CLEAR_RCVR)
			s->rx_len = 0;
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		break;
	case UART_SCR:
		s->scr = v;
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
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (s->rx_len) {
			v = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % SERIAL_RX_SIZE;
			s->rx_len--;
		}
		return v;
	case UART_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case UART_IIR:
		v = serial_iir(s);
		if ((v & 0x0f) == IIR_THRI)
			s->thri_pending = false; /* reading IIR acknowledges THRI */
		return v;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return (uint8_t)(LSR_THRE | LSR_TEMT | (s->rx_len ? LSR_DR : 0));
	case UART_MSR:
		if (s->mcr & MCR_LOOP) /* loopback: outputs appear on the inputs */
			return (uint8_t)(((s->mcr & 0x02) << 3) | ((s->mcr & 0x01) << 5) |
					 ((s->mcr & 0x08) << 4) | ((s->mcr & 0x04) << 4));
		return MSR_CTS | MSR_DSR | MSR_DCD;
	case UART_SCR:
		return s->scr;
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
	while (n < len && s->rx_len < SERIAL_RX_SIZE) {
		s->rx[(s->rx_head + s->rx_len) % SERIAL_RX_SIZE] = buf[n++];
		s->rx_len++;
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
	s->mcr = MCR_OUT2;
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

void serial_free(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}
