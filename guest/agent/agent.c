/*
 * hull's guest agent, PID 1 (agent.h, docs/vm-agent.md): after agent_boot, one poll loop
 * serves the vsock sessions (proto.h), relays the processes' stdio with back-pressure both
 * ways (a slow host never blocks PID 1, a process that does not read its stdin stops the
 * host's session from being read), reaps every zombie, and powers off when RUN's process ended.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "agent.h"
#include "netconf.h"

#define MAX_SESSIONS 16
#define OUT_HIGH (2 * HULL_AGENT_MAX_PAYLOAD) /* stop reading a process's output above this */
#define POWEROFF_FLUSH_MS 5000                /* how long EXIT may take to reach the host */
#define DRAIN_MAX (4u << 20)                  /* output read after an exit, at most */
#define STDIN_MAX (HULL_AGENT_STDIN_WINDOW + HULL_AGENT_MAX_PAYLOAD) /* a host's slack */
#define ACK_EVERY HULL_AGENT_MAX_PAYLOAD /* STDIN_ACK once this much was taken */

struct proc;

struct session {
	int fd;
	struct agent_rx rx;
	uint8_t *out;  /* frames queued for the host */
	size_t out_len, out_off;
	struct proc *proc;
	bool closing;  /* close once out is written */
};

struct proc {
	struct agent_child c;
	struct session *s; /* NULL: the host went away, output is dropped */
	bool run, tty, exited;
	int code;
	uint8_t *in;       /* STDIN bytes the process has not read yet (in_off..in_len) */
	size_t in_len, in_off;
	size_t unacked;    /* stdin taken (or dropped) since the last STDIN_ACK */
	bool in_eof;       /* close stdin once in is written */
	size_t drained;    /* output bytes read after the exit */
};

static struct session *sessions[MAX_SESSIONS];
static struct proc *procs[MAX_SESSIONS];
static enum hull_agent_state run_state = HULL_AGENT_STATE_IDLE;
static struct proc *run_proc;
static long long poweroff_at; /* monotonic ms; 0: not powering off */
static bool pid1;             /* false: a test agent on a unix socket (--unix), not init */

void agent_log(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	dprintf(2, "hull-agent: %s\n", buf);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (!q) {
		agent_log("out of memory");
		abort();
	}
	return q;
}

/* Queue one frame for the host (dropped when the session is closing or gone). */
static void send_frame(struct session *s, uint16_t type, const void *data, uint32_t len)
{
	if (!s || s->closing)
		return;
	if (s->out_off && s->out_off == s->out_len)
		s->out_len = s->out_off = 0;
	s->out = xrealloc(s->out, s->out_len + 8 + len);
	hull_agent_hdr_put(s->out + s->out_len, type, len);
	if (len)
		memcpy(s->out + s->out_len + 8, data, len);
	s->out_len += 8 + len;
}

static void send_u32(struct session *s, uint16_t type, uint32_t v)
{
	uint8_t b[4];

	hull_agent_put32(b, v);
	send_frame(s, type, b, 4);
}

static void closefd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void proc_stdin_close(struct proc *p)
{
	closefd(&p->c.in_fd);
	free(p->in);
	p->in = NULL;
	p->in_len = p->in_off = 0;
}

static void session_free(struct session *s)
{
	for (size_t i = 0; i < MAX_SESSIONS; i++)
		if (sessions[i] == s)
			sessions[i] = NULL;
	if (s->proc) {
		/* the process lives on without a host: no more stdin, its output dropped */
		s->proc->s = NULL;
		if (!s->proc->tty)
			proc_stdin_close(s->proc);
	}
	close(s->fd);
	free(s->out);
	free(s);
}

static void session_error(struct session *s, const char *msg)
{
	agent_log("session: %s", msg);
	send_frame(s, HULL_AGENT_ERROR, msg, (uint32_t)strlen(msg));
	s->closing = true;
}

static void start_proc(struct session *s, uint16_t type, const uint8_t *pl, uint32_t len)
{
	bool run = type == HULL_AGENT_RUN;
	struct agent_req *r;
	struct proc *p;
	char msg[512];
	const char *why;
	size_t slot;

	if (s->proc)
		return session_error(s, "a second RUN/EXEC in one session");
	if (run && run_state != HULL_AGENT_STATE_IDLE)
		return session_error(s, "RUN: the container's process was already started");
	if (!run && run_state == HULL_AGENT_STATE_EXITED)
		return session_error(s, "EXEC: the container's process ended");
	for (slot = 0; slot < MAX_SESSIONS && procs[slot]; slot++)
		;
	if (slot == MAX_SESSIONS)
		return session_error(s, "too many processes");
	why = agent_req_decode(pl, len, &r);
	if (why)
		return session_error(s, why);
	p = calloc(1, sizeof(*p));
	if (!p)
		(void)snprintf(msg, sizeof(msg), "out of memory");
	if (!p || agent_spawn(r, run, &p->c, msg, sizeof(msg)) < 0) {
		agent_req_free(r);
		free(p);
		return session_error(s, msg);
	}
	p->tty = r->flags & HULL_AGENT_PROC_TTY;
	agent_req_free(r);
	p->run = run;
	p->s = s;
	s->proc = p;
	procs[slot] = p;
	if (run) {
		run_state = HULL_AGENT_STATE_RUNNING;
		run_proc = p;
	}
}

/* SIGNAL as a session's first frame: for the RUN process, answered by ACK. */
static void lone_signal(struct session *s, int sig)
{
	int r = 0;

	if (!run_proc || run_proc->exited)
		r = -ESRCH;
	else if (kill(run_proc->c.pid, sig) < 0)
		r = -errno;
	send_u32(s, HULL_AGENT_ACK, (uint32_t)r);
	s->closing = true;
}

/* MOUNT as a session's only frame, before RUN: answered by ACK. */
static void lone_mount(struct session *s, const uint8_t *pl, uint32_t len)
{
	int r = -EBUSY; /* the process runs already: it would not see a consistent root */

	if (!s->proc && run_state == HULL_AGENT_STATE_IDLE)
		r = agent_mount(pl, len);
	send_u32(s, HULL_AGENT_ACK, (uint32_t)r);
	s->closing = true;
}

/* NETCONF (netconf.h): before RUN, on a session that runs nothing; ACK 0 or ERROR. A test
 * agent (--unix) decodes it and applies nothing. */
static void netconf(struct session *s, const uint8_t *pl, uint32_t len)
{
	struct agent_nic nics[HULL_AGENT_MAX_NICS];
	char msg[256];
	const char *why;
	size_t n;

	if (s->proc || run_state != HULL_AGENT_STATE_IDLE)
		return session_error(s, "NETCONF: only before RUN");
	why = agent_netconf_decode(pl, len, nics, &n);
	if (why)
		return session_error(s, why);
	if (pid1 && agent_netconf_apply(nics, n, msg, sizeof(msg)) < 0)
		return session_error(s, msg);
	send_u32(s, HULL_AGENT_ACK, 0);
}

static void stdin_ack(struct proc *p, size_t n, bool now)
{
	p->unacked += n;
	if (p->unacked && (now || p->unacked >= ACK_EVERY)) {
		send_u32(p->s, HULL_AGENT_STDIN_ACK, (uint32_t)p->unacked);
		p->unacked = 0;
	}
}

static void stdin_data(struct session *s, struct proc *p, const uint8_t *data, uint32_t len)
{
	if (p->c.in_fd < 0 || p->in_eof || !len)
		return stdin_ack(p, len, true); /* dropped: the host's window moves on */
	if (p->in_len - p->in_off + len > STDIN_MAX)
		return session_error(s, "STDIN past the window (HULL_AGENT_STDIN_WINDOW)");
	if (p->in_off) { /* keep the unwritten bytes at the front */
		memmove(p->in, p->in + p->in_off, p->in_len - p->in_off);
		p->in_len -= p->in_off;
		p->in_off = 0;
	}
	p->in = xrealloc(p->in, p->in_len + len);
	memcpy(p->in + p->in_len, data, len);
	p->in_len += len;
}

/* The host's wall clock (a guest restored from a snapshot keeps the snapshot's time). */
static void set_clock(struct session *s, const uint8_t *pl)
{
	uint64_t sec = (uint64_t)hull_agent_get32(pl) | (uint64_t)hull_agent_get32(pl + 4) << 32;
	uint32_t nsec = hull_agent_get32(pl + 8);
	struct timespec ts = { .tv_sec = (time_t)sec, .tv_nsec = nsec };

	if (nsec >= 1000000000u || sec > (uint64_t)INT64_MAX / 2)
		return session_error(s, "CLOCK: not a time");
	/* a test agent on the host never sets the host's clock */
	if (pid1 && clock_settime(CLOCK_REALTIME, &ts) < 0)
		agent_log("clock_settime: %s", strerror(errno));
}

/* The host's random bytes into a restored clone's kernel (entropy.c), before RUN. */
static void set_entropy(struct session *s, const uint8_t *pl, uint32_t len)
{
	char msg[128];
	int r;

	if (!pid1) /* a test agent on the host never feeds the host's pool */
		return;
	r = agent_entropy(pl, len);
	if (r < 0) {
		(void)snprintf(msg, sizeof(msg), "ENTROPY: the guest's random generator: %s",
			       strerror(-r));
		return session_error(s, msg);
	}
	agent_log("reseeded the random generator with %u bytes from the host", len);
}

/* TOP as a session's only frame: TOP_REPLY, then close. */
static void lone_top(struct session *s)
{
	static uint8_t pl[HULL_AGENT_MAX_PAYLOAD];

	send_frame(s, HULL_AGENT_TOP_REPLY, pl, (uint32_t)agent_top(pl, sizeof(pl)));
	s->closing = true;
}

static void handle_frame(struct session *s, uint16_t type, const uint8_t *pl, uint32_t len)
{
	struct proc *p = s->proc;
	uint32_t sig;

	switch ((enum hull_agent_type)type) {
	case HULL_AGENT_RUN:
	case HULL_AGENT_EXEC:
		return start_proc(s, type, pl, len);
	case HULL_AGENT_SIGNAL:
		sig = hull_agent_get32(pl);
		if (sig < 1 || sig > 64)
			return session_error(s, "SIGNAL: not a signal number");
		if (!p)
			return lone_signal(s, (int)sig);
		if (!p->exited)
			(void)kill(p->c.pid, (int)sig);
		return;
	case HULL_AGENT_NETCONF:
		return netconf(s, pl, len);
	case HULL_AGENT_STDIN:
	case HULL_AGENT_STDIN_EOF:
	case HULL_AGENT_WINSIZE:
		if (!p)
			return session_error(s, "stdin or window size before RUN/EXEC");
		if (type == HULL_AGENT_STDIN)
			stdin_data(s, p, pl, len);
		else if (type == HULL_AGENT_WINSIZE && p->tty)
			agent_winsize(p->c.out_fd, hull_agent_get16(pl), hull_agent_get16(pl + 2));
		else if (type == HULL_AGENT_STDIN_EOF && !p->tty)
			p->in_eof = true;
		return;
	case HULL_AGENT_MOUNT:
		return lone_mount(s, pl, len);
	case HULL_AGENT_CLOCK:
		return set_clock(s, pl);
	case HULL_AGENT_TOP:
		return lone_top(s);
	case HULL_AGENT_ENTROPY:
		return set_entropy(s, pl, len);
	case HULL_AGENT_TOP_REPLY:
	case HULL_AGENT_HELLO:
	case HULL_AGENT_STDOUT:
	case HULL_AGENT_STDERR:
	case HULL_AGENT_EXIT:
	case HULL_AGENT_ERROR:
	case HULL_AGENT_ACK:
	case HULL_AGENT_STDIN_ACK:
	case HULL_AGENT_TYPE_COUNT:
		break;
	}
	session_error(s, "a frame the host may not send");
}

static void session_read(struct session *s)
{
	uint8_t *at;
	size_t want = agent_rx_want(&s->rx, &at);
	ssize_t n = read(s->fd, at, want);
	const uint8_t *pl;
	uint16_t type;
	uint32_t len;
	int r;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		return session_free(s);
	r = agent_rx_got(&s->rx, (size_t)n, &type, &pl, &len);
	if (r < 0) {
		agent_log("session: not a frame a host may send, closing");
		return session_free(s);
	}
	if (r == 1) {
		handle_frame(s, type, pl, len);
		agent_rx_next(&s->rx);
	}
}

static void session_write(struct session *s)
{
	ssize_t n = write(s->fd, s->out + s->out_off, s->out_len - s->out_off);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0)
		return session_free(s);
	s->out_off += (size_t)n;
	if (s->out_off == s->out_len) {
		s->out_off = s->out_len = 0;
		if (s->closing)
			session_free(s);
	}
}

static void session_accept(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct session *s;
	uint8_t hello[8];
	size_t i;

	if (fd < 0)
		return;
	for (i = 0; i < MAX_SESSIONS && sessions[i]; i++)
		;
	s = i < MAX_SESSIONS ? calloc(1, sizeof(*s)) : NULL;
	if (!s) {
		close(fd);
		return;
	}
	s->fd = fd;
	sessions[i] = s;
	hull_agent_put32(hello, HULL_AGENT_VERSION);
	hull_agent_put32(hello + 4, (uint32_t)run_state);
	send_frame(s, HULL_AGENT_HELLO, hello, sizeof(hello));
}

/*
 * Move what the process wrote to its session (or nowhere). Returns true once the fd is done:
 * EOF, EIO (a pty whose slave closed), or, after the process exited, nothing more to read.
 */
static bool proc_read(struct proc *p, int *fd, uint16_t type)
{
	static uint8_t buf[HULL_AGENT_MAX_PAYLOAD];

	while (*fd >= 0 && (!p->s || p->s->out_len < OUT_HIGH)) {
		ssize_t n;

		/*
		 * After the exit, what was written before it is in the pipe; a background child
		 * that keeps writing must not hold EXIT back forever (nor PID 1 in this loop).
		 */
		if (p->exited && p->drained >= DRAIN_MAX)
			return true;
		n = read(*fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return p->exited;
		if (n <= 0) {
			closefd(fd);
			break;
		}
		send_frame(p->s, type, buf, (uint32_t)n);
		if (!p->exited)
			return false; /* one frame per turn: stdin and other sessions get theirs */
		p->drained += (size_t)n;
	}
	return *fd < 0;
}

static void proc_write_stdin(struct proc *p)
{
	while (p->in_off < p->in_len) {
		ssize_t n = write(p->c.in_fd, p->in + p->in_off, p->in_len - p->in_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) { /* EPIPE: it closed its stdin; the rest is dropped as docker does */
			stdin_ack(p, p->in_len - p->in_off, true);
			proc_stdin_close(p);
			return;
		}
		p->in_off += (size_t)n;
		stdin_ack(p, (size_t)n, false);
	}
	stdin_ack(p, 0, true);
	p->in_len = p->in_off = 0;
	if (p->in_eof && !p->tty)
		proc_stdin_close(p);
}

static void proc_finish(struct proc *p)
{
	for (size_t i = 0; i < MAX_SESSIONS; i++)
		if (procs[i] == p)
			procs[i] = NULL;
	if (p->s) {
		send_u32(p->s, HULL_AGENT_EXIT, (uint32_t)p->code);
		p->s->closing = true;
		p->s->proc = NULL;
	}
	if (p->run) {
		run_state = HULL_AGENT_STATE_EXITED;
		run_proc = NULL;
		poweroff_at = now_ms() + POWEROFF_FLUSH_MS;
	}
	closefd(&p->c.in_fd);
	closefd(&p->c.out_fd);
	closefd(&p->c.err_fd);
	free(p->in);
	free(p);
}

/* An exited process: its output read to the end, then EXIT. */
static void proc_drain(struct proc *p)
{
	bool out = proc_read(p, &p->c.out_fd, HULL_AGENT_STDOUT);
	bool err = proc_read(p, &p->c.err_fd, HULL_AGENT_STDERR);

	if (out && err)
		proc_finish(p);
}

static void reap(int sfd)
{
	struct signalfd_siginfo si;
	int status;
	pid_t pid;

	while (read(sfd, &si, sizeof(si)) == sizeof(si))
		;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < MAX_SESSIONS; i++) {
			struct proc *p = procs[i];

			if (!p || p->c.pid != pid)
				continue;
			p->exited = true;
			p->code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
		}
	}
}

static void power_off(void)
{
	if (!pid1) /* a test agent on the host: never kill(-1) or reboot there */
		exit(0);
	agent_log("the container's process ended: powering off");
	(void)kill(-1, SIGKILL);
	sync();
	(void)reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

enum { SLOT_LISTEN, SLOT_SIGNAL, SLOT_FIXED };
#define NFDS (SLOT_FIXED + MAX_SESSIONS + 3 * MAX_SESSIONS)

/* Each session's and process's fd into pfd with what it waits for; owners[] says whose. */
static nfds_t poll_build(struct pollfd *pfd, void **owners, int *kinds)
{
	nfds_t n = SLOT_FIXED;

	for (size_t i = 0; i < MAX_SESSIONS; i++) {
		struct session *s = sessions[i];
		struct proc *p = procs[i];

		if (s) {
			short ev = s->out_len > s->out_off ? POLLOUT : 0;

			/* always read: the host's STDIN window bounds what piles up (proto.h) */
			if (!s->closing)
				ev |= POLLIN;
			owners[n] = s, kinds[n] = 0;
			pfd[n++] = (struct pollfd){ .fd = s->fd, .events = ev };
		}
		if (!p)
			continue;
		if (!p->s || p->s->out_len < OUT_HIGH) {
			owners[n] = p, kinds[n] = 1;
			pfd[n++] = (struct pollfd){ .fd = p->c.out_fd, .events = POLLIN };
			owners[n] = p, kinds[n] = 2;
			pfd[n++] = (struct pollfd){ .fd = p->c.err_fd, .events = POLLIN };
		}
		if (p->in_len || (p->in_eof && !p->tty)) {
			owners[n] = p, kinds[n] = 3;
			pfd[n++] = (struct pollfd){ .fd = p->c.in_fd, .events = POLLOUT };
		}
	}
	return n;
}

/* Is owner still alive (an earlier event of this turn may have freed it)? */
static bool alive(const void *owner, int kind)
{
	for (size_t i = 0; i < MAX_SESSIONS; i++)
		if (kind == 0 ? sessions[i] == owner : procs[i] == owner)
			return true;
	return false;
}

static void poll_dispatch(struct pollfd *pfd, nfds_t n, void **owners, int *kinds)
{
	for (nfds_t i = SLOT_FIXED; i < n; i++) {
		short re = pfd[i].revents;

		if (!re || pfd[i].fd < 0 || !alive(owners[i], kinds[i]))
			continue;
		if (kinds[i] == 0) {
			struct session *s = owners[i];

			if (re & POLLOUT)
				session_write(s);
			if (alive(s, 0) && (re & (POLLIN | POLLHUP | POLLERR)) &&
			    (pfd[i].events & POLLIN))
				session_read(s);
			else if (alive(s, 0) && (re & (POLLHUP | POLLERR)))
				session_free(s);
		} else if (kinds[i] == 3) {
			proc_write_stdin(owners[i]);
		} else {
			struct proc *p = owners[i];

			(void)proc_read(p, kinds[i] == 1 ? &p->c.out_fd : &p->c.err_fd,
					kinds[i] == 1 ? HULL_AGENT_STDOUT : HULL_AGENT_STDERR);
		}
	}
}

/* The listening socket: vsock port HULL_AGENT_PORT, or a unix socket for the tests. */
static int listen_on(const char *unix_path)
{
	struct sockaddr_vm addr = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				    .svm_port = HULL_AGENT_PORT };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int lfd = socket(unix_path ? AF_UNIX : AF_VSOCK,
			 SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (lfd < 0)
		return -1;
	if (unix_path) {
		(void)snprintf(un.sun_path, sizeof(un.sun_path), "%s", unix_path);
		if (bind(lfd, (struct sockaddr *)&un, sizeof(un)) < 0)
			goto fail;
	} else if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		goto fail;
	}
	if (listen(lfd, MAX_SESSIONS) == 0)
		return lfd;
fail:
	close(lfd);
	return -1;
}

static int serve_init(const char *unix_path, int *ret_sfd)
{
	sigset_t set;
	int lfd;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	(void)sigprocmask(SIG_BLOCK, &set, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
	*ret_sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	lfd = *ret_sfd < 0 ? -1 : listen_on(unix_path);
	if (lfd < 0)
		agent_log("listen on %s: %s", unix_path ? unix_path : "vsock", strerror(errno));
	return lfd;
}

static void serve(int lfd, int sfd)
{
	static struct pollfd pfd[NFDS];
	static void *owners[NFDS];
	static int kinds[NFDS];

	agent_log("ready");
	for (;;) {
		nfds_t n;
		int timeout = -1;
		bool pending = false;

		for (size_t i = 0; i < MAX_SESSIONS; i++) {
			if (procs[i] && procs[i]->exited)
				proc_drain(procs[i]);
			if (sessions[i] && sessions[i]->out_len > sessions[i]->out_off)
				pending = true;
		}
		if (poweroff_at && (!pending || now_ms() >= poweroff_at))
			power_off();
		if (poweroff_at)
			timeout = (int)(poweroff_at - now_ms()) + 1;
		pfd[SLOT_LISTEN] = (struct pollfd){ .fd = poweroff_at ? -1 : lfd, .events = POLLIN };
		pfd[SLOT_SIGNAL] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		n = poll_build(pfd, owners, kinds);
		if (poll(pfd, n, timeout) < 0)
			continue;
		if (pfd[SLOT_SIGNAL].revents)
			reap(sfd);
		if (pfd[SLOT_LISTEN].revents)
			session_accept(lfd);
		poll_dispatch(pfd, n, owners, kinds);
	}
}

/*
 * As PID 1: boot, then serve vsock. Otherwise only `hull-agent --unix PATH` (tests: the
 * protocol and the process handling without a VM; RUN's hostname and files are not applied
 * and its end exits the agent instead of powering off).
 */
int main(int argc, char **argv)
{
	const char *unix_path = NULL;
	int lfd, sfd;

	pid1 = getpid() == 1;
	if (!pid1) {
		if (argc != 3 || strcmp(argv[1], "--unix")) {
			dprintf(2, "usage: hull-agent --unix PATH (as PID 1: no arguments)\n");
			return 2;
		}
		unix_path = argv[2];
		agent_spawn_test_mode();
	}
	if (pid1) {
		int c = open("/dev/console", O_RDWR | O_NOCTTY);

		if (c > 2) {
			(void)dup2(c, 2);
			close(c); /* not into the processes */
		}
		if (agent_boot() < 0) {
			agent_log("the guest cannot be set up: powering off");
			sync();
			(void)reboot(RB_POWER_OFF);
			return 1;
		}
	}
	lfd = serve_init(unix_path, &sfd);
	if (lfd < 0) {
		if (pid1)
			(void)reboot(RB_POWER_OFF);
		return 1;
	}
	serve(lfd, sfd);
}
