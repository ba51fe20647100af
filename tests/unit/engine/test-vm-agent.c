/*
 * The guest agent's protocol from both ends (guest/agent/proto.h): the host client's RUN
 * encoder against the agent's decoder (guest/agent/wire.c, compiled in as it is), the agent's
 * frame reader and the client's session against hostile peers: seeded random frames,
 * truncations, absurd lengths, unknown types. A session runs on a socketpair with a forked
 * fake agent on the other end.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/vm-agent.h"
#include "wire.h"

/* argv-style test vectors of string literals, as vm_agent_proc takes them (char *const *) */
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"

#define SEED 18u

static uint32_t rnd(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static uint8_t payload[HULL_AGENT_MAX_PAYLOAD];

static void test_encode_decode_roundtrip(void **state)
{
	char *args[] = { "sh", "-c", "echo $A", NULL };
	char *env[] = { "A=1", "PATH=/bin", "EMPTY=", NULL };
	uint32_t gids[] = { 10, 20, 4000000000u };
	struct vm_agent_proc p = { .args = args, .env = env, .cwd = "/work", .uid = 1000,
				   .gid = 1001, .gids = gids, .n_gids = 3, .hostname = "box",
				   .etc_hosts = "127.0.0.1 localhost\n", .resolv = NULL,
				   .tty = true, .rows = 24, .cols = 80 };
	struct agent_req *r;
	int len = vm_agent_proc_encode(&p, payload, sizeof(payload));

	assert_true(len > 0);
	assert_null(agent_req_decode(payload, (uint32_t)len, &r));
	assert_int_equal(r->uid, 1000);
	assert_int_equal(r->gid, 1001);
	assert_int_equal(r->n_gids, 3);
	assert_int_equal(r->gids[2], 4000000000u);
	assert_int_equal(r->flags, HULL_AGENT_PROC_TTY | HULL_AGENT_PROC_HOSTNAME |
					   HULL_AGENT_PROC_HOSTS);
	assert_int_equal(r->rows, 24);
	assert_int_equal(r->cols, 80);
	for (int i = 0; i < 3; i++)
		assert_string_equal(r->args[i], args[i]);
	assert_null(r->args[3]);
	for (int i = 0; i < 3; i++)
		assert_string_equal(r->env[i], env[i]);
	assert_null(r->env[3]);
	assert_string_equal(r->cwd, "/work");
	assert_string_equal(r->hostname, "box");
	assert_string_equal(r->hosts, "127.0.0.1 localhost\n");
	assert_string_equal(r->resolv, "");
	agent_req_free(r);

	/* every strict prefix is refused: the last string loses its NUL */
	for (int cut = 0; cut < len; cut++) {
		assert_non_null(agent_req_decode(payload, (uint32_t)cut, &r));
		assert_null(r);
	}
}

static void test_encode_refuses(void **state)
{
	static char *many[HULL_AGENT_MAX_ARGS + 2];
	char *one[] = { "true", NULL }, *bad_env[] = { "NOEQUALS", NULL };
	char *empty[] = { "", NULL };
	char *big = malloc(HULL_AGENT_MAX_PAYLOAD);
	char *huge[] = { big, NULL };
	struct vm_agent_proc p = { .args = one };

	for (size_t i = 0; i < HULL_AGENT_MAX_ARGS + 1; i++)
		many[i] = "x";
	assert_true(vm_agent_proc_encode(&p, payload, sizeof(payload)) > 0);
	p.hostname = "a-hostname-that-is-longer-than-sixty-four-bytes-which-linux-refuses-x";
	assert_int_equal(vm_agent_proc_encode(&p, payload, sizeof(payload)), -EINVAL);
	p.hostname = NULL;
	p.cwd = "relative";
	assert_int_equal(vm_agent_proc_encode(&p, payload, sizeof(payload)), -EINVAL);
	p.cwd = NULL;
	p.env = bad_env;
	assert_int_equal(vm_agent_proc_encode(&p, payload, sizeof(payload)), -EINVAL);
	p.env = NULL;
	p.args = many;
	assert_int_equal(vm_agent_proc_encode(&p, payload, sizeof(payload)), -EINVAL);
	p.args = empty;
	assert_int_equal(vm_agent_proc_encode(&p, payload, sizeof(payload)), -EINVAL);
	memset(big, 'a', HULL_AGENT_MAX_PAYLOAD - 1);
	big[HULL_AGENT_MAX_PAYLOAD - 1] = '\0';
	p.args = huge;
	assert_int_equal(vm_agent_proc_encode(&p, payload, sizeof(payload)), -EINVAL);
	p.args = one;
	p.n_gids = HULL_AGENT_MAX_GIDS + 1;
	p.gids = (uint32_t[HULL_AGENT_MAX_GIDS + 1]){ 0 };
	assert_int_equal(vm_agent_proc_encode(&p, payload, sizeof(payload)), -EINVAL);
	free(big);
}

/* A decoded request's strings all lie inside its copy of the payload. */
static void check_req(const struct agent_req *r, uint32_t len)
{
	const char *lo = r->mem, *hi = r->mem + len;

	for (size_t i = 0; r->args[i]; i++)
		assert_true(r->args[i] >= lo && r->args[i] + strlen(r->args[i]) < hi);
	for (size_t i = 0; r->env[i]; i++)
		assert_true(r->env[i] >= lo && r->env[i] + strlen(r->env[i]) < hi);
	assert_true(r->resolv >= lo && r->resolv + strlen(r->resolv) < hi);
	assert_true(r->n_gids <= HULL_AGENT_MAX_GIDS);
}

/* Seeded mutations of a valid payload and random headers: refused or sane, never outside. */
static void test_decode_hostile(void **state)
{
	char *args[] = { "cat", "-", NULL }, *env[] = { "K=V", NULL };
	struct vm_agent_proc p = { .args = args, .env = env, .cwd = "/", .hostname = "h" };
	static uint8_t buf[HULL_AGENT_MAX_PAYLOAD];
	int base = vm_agent_proc_encode(&p, payload, sizeof(payload));
	uint32_t s = SEED, ok = 0;

	assert_true(base > 0);
	for (int i = 0; i < 20000; i++) {
		uint32_t len = (uint32_t)base;
		struct agent_req *r;

		memcpy(buf, payload, (size_t)base);
		if (i % 4 == 3) { /* a random header with random counts over random bytes */
			len = rnd(&s) % 512;
			for (uint32_t k = 0; k < len; k++)
				buf[k] = (uint8_t)rnd(&s);
		} else {
			for (uint32_t k = 0, n = 1 + rnd(&s) % 4; k < n; k++)
				buf[rnd(&s) % len] = (uint8_t)rnd(&s);
			if (i % 4 == 1)
				len = rnd(&s) % (len + 1);
		}
		if (!agent_req_decode(buf, len, &r)) {
			check_req(r, len);
			agent_req_free(r);
			ok++;
		} else {
			assert_null(r);
		}
	}
	assert_true(ok > 0); /* some mutations (a changed letter) are still valid */
}

/* The agent's frame reader fed bytes in random chunks, as reads would deliver them. */
static int rx_feed(struct agent_rx *rx, const uint8_t *data, size_t len, uint32_t *s,
		   int *frames)
{
	size_t off = 0;

	while (off < len) {
		uint8_t *at;
		size_t want = agent_rx_want(rx, &at), n = 1 + rnd(s) % 9000;
		const uint8_t *pl;
		uint16_t type;
		uint32_t plen;
		int r;

		assert_true(want > 0 && at + want <= rx->buf + sizeof(rx->buf));
		if (n > want)
			n = want;
		if (n > len - off)
			n = len - off;
		memcpy(at, data + off, n);
		off += n;
		r = agent_rx_got(rx, n, &type, &pl, &plen);
		if (r < 0)
			return -1;
		if (r == 1) {
			assert_true(hull_agent_from_host(type) && hull_agent_shape_ok(type, plen));
			assert_true(plen <= HULL_AGENT_MAX_PAYLOAD);
			(*frames)++;
			agent_rx_next(rx);
		}
	}
	return 0;
}

static size_t put_frame(uint8_t *out, uint16_t type, uint16_t flags, uint32_t len)
{
	hull_agent_hdr_put(out, type, len);
	hull_agent_put16(out + 6, flags);
	return 8;
}

static void test_agent_rx(void **state)
{
	static struct agent_rx rx;
	static uint8_t stream[40 * (2 * 8 + 4 + HULL_AGENT_MAX_PAYLOAD)];
	uint32_t s = SEED;
	size_t n = 0;
	int frames = 0;

	/* good frames in random chunking: all of them come out */
	for (int i = 0; i < 40; i++) {
		uint32_t len = rnd(&s) % HULL_AGENT_MAX_PAYLOAD;

		n += put_frame(stream + n, HULL_AGENT_STDIN, 0, len);
		memset(stream + n, i, len);
		n += len;
		n += put_frame(stream + n, HULL_AGENT_WINSIZE, 0, 4);
		n += 4;
	}
	memset(&rx, 0, sizeof(rx));
	assert_int_equal(rx_feed(&rx, stream, n, &s, &frames), 0);
	assert_int_equal(frames, 80);

	/* each of these is refused once its header is in */
	static const struct { uint16_t type, flags; uint32_t len; } bad[] = {
		{ HULL_AGENT_STDIN, 0, HULL_AGENT_MAX_PAYLOAD + 1 }, { HULL_AGENT_STDIN, 0, ~0u },
		{ 0, 0, 0 }, { HULL_AGENT_TYPE_COUNT, 0, 0 }, { 0xffff, 0, 4 },
		{ HULL_AGENT_STDOUT, 0, 1 }, { HULL_AGENT_EXIT, 0, 4 }, { HULL_AGENT_HELLO, 0, 8 },
		{ HULL_AGENT_STDIN, 1, 0 }, { HULL_AGENT_WINSIZE, 0, 3 },
		{ HULL_AGENT_STDIN_EOF, 0, 1 }, { HULL_AGENT_SIGNAL, 0, 8 }, { HULL_AGENT_RUN, 0, 23 },
		{ HULL_AGENT_STDIN_ACK, 0, 4 },
		/* MOUNT: flags and two strings at least; a tag and a path within their bounds */
		{ HULL_AGENT_MOUNT, 0, 7 }, { HULL_AGENT_MOUNT, 0, 4 + 36 + 1 + 4096 + 2 },
		{ HULL_AGENT_STDIN_ACK, 0, 4 }, { HULL_AGENT_CLOCK, 0, 11 },
		{ HULL_AGENT_CLOCK, 0, 13 },
		/* ENTROPY: 16 to 256 bytes (cloud18) */
		{ HULL_AGENT_ENTROPY, 0, 0 }, { HULL_AGENT_ENTROPY, 0, HULL_AGENT_ENTROPY_MIN - 1 },
		{ HULL_AGENT_ENTROPY, 0, HULL_AGENT_ENTROPY_MAX + 1 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&rx, 0, sizeof(rx));
		frames = 0;
		n = put_frame(stream, bad[i].type, bad[i].flags, bad[i].len);
		assert_int_equal(rx_feed(&rx, stream, n, &s, &frames), -1);
	}

	/* random streams: frames that come out are well-formed; the reader never overruns */
	for (int i = 0; i < 3000; i++) {
		size_t len = rnd(&s) % 4096;

		for (size_t k = 0; k < len; k++)
			stream[k] = (uint8_t)rnd(&s);
		if (i % 2) { /* plausible headers: a host type and a small length */
			hull_agent_hdr_put(stream, (uint16_t)(HULL_AGENT_RUN + rnd(&s) % 6),
					   rnd(&s) % 64);
		}
		memset(&rx, 0, sizeof(rx));
		frames = 0;
		(void)rx_feed(&rx, stream, len, &s, &frames);
	}
}

/* ---- the client's session against a fake agent on a socketpair ---- */

static void write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			_exit(3); /* the client hung up: fine for the hostile scripts */
		p += n;
		len -= (size_t)n;
	}
}

static void send_frame(int fd, uint16_t type, const void *data, uint32_t len)
{
	uint8_t hdr[8];

	hull_agent_hdr_put(hdr, type, len);
	write_all(fd, hdr, 8);
	if (len)
		write_all(fd, data, len);
}

/* The fake agent's read of one whole frame (with the agent's own reader). */
static int fake_read(int fd, struct agent_rx *rx, uint16_t *type, const uint8_t **pl,
		     uint32_t *len)
{
	for (;;) {
		uint8_t *at;
		size_t want = agent_rx_want(rx, &at);
		ssize_t n = read(fd, at, want);
		int r;

		if (n <= 0)
			return -1;
		r = agent_rx_got(rx, (size_t)n, type, pl, len);
		if (r != 0)
			return r;
	}
}

enum script { ECHO, HOSTILE, ERROR_FRAME, BIG_LEN, HANGUP };

/* The agent's side: RUN first, then per script. */
static void __attribute__((noreturn)) fake_agent(int fd, enum script sc, uint32_t seed)
{
	static struct agent_rx rx;
	const uint8_t *pl;
	uint16_t type;
	uint32_t len;
	struct agent_req *req;
	uint8_t b[8];

	if (fake_read(fd, &rx, &type, &pl, &len) != 1 || type != HULL_AGENT_RUN ||
	    agent_req_decode(pl, len, &req))
		_exit(2);
	agent_rx_next(&rx);
	if (sc == ECHO) { /* stdin back as stdout, a word on stderr, EXIT 3 after STDIN_EOF */
		send_frame(fd, HULL_AGENT_STDERR, "err", 3);
		while (fake_read(fd, &rx, &type, &pl, &len) == 1 && type != HULL_AGENT_STDIN_EOF) {
			if (type == HULL_AGENT_STDIN) {
				send_frame(fd, HULL_AGENT_STDOUT, pl, len);
				hull_agent_put32(b, len); /* taken: the host's window moves */
				send_frame(fd, HULL_AGENT_STDIN_ACK, b, 4);
			}
			agent_rx_next(&rx);
		}
		hull_agent_put32(b, 3);
		send_frame(fd, HULL_AGENT_EXIT, b, 4);
	} else if (sc == HOSTILE) {
		uint32_t s = seed;
		static uint8_t junk[4096];
		size_t n = rnd(&s) % sizeof(junk);

		for (size_t k = 0; k < n; k++)
			junk[k] = (uint8_t)rnd(&s);
		if (seed % 2)
			hull_agent_hdr_put(junk, (uint16_t)(rnd(&s) % 15), rnd(&s) % 32);
		write_all(fd, junk, n);
	} else if (sc == ERROR_FRAME) {
		send_frame(fd, HULL_AGENT_ERROR, "no\nway\x01", 7);
	} else if (sc == BIG_LEN) {
		hull_agent_hdr_put(b, HULL_AGENT_STDOUT, 0x7fffffff);
		write_all(fd, b, 8);
	}
	_exit(0);
}

/* Run a session against script sc; its result, with stdout/stderr in memfds. */
static int session_with(enum script sc, uint32_t seed, int in, int out, int err_fd,
			struct hull_err *err)
{
	char *args[] = { "cat", NULL };
	struct vm_agent_proc p = { .args = args };
	int sv[2], stdio[3] = { in, out, err_fd }, status, r;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		fake_agent(sv[1], sc, seed);
	}
	close(sv[1]);
	r = vm_agent_session(sv[0], false, &p, stdio, -1, err);
	close(sv[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return r;
}

static size_t memfd_read(int fd, uint8_t *buf, size_t cap)
{
	ssize_t n = pread(fd, buf, cap, 0);

	assert_true(n >= 0);
	return (size_t)n;
}

static void test_session_echo(void **state)
{
	static uint8_t data[1 << 20], back[(1 << 20) + 1];
	int in = memfd_create("in", MFD_CLOEXEC), out = memfd_create("out", MFD_CLOEXEC);
	int errf = memfd_create("err", MFD_CLOEXEC);
	struct hull_err err = { 0 };
	uint32_t s = SEED;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rnd(&s);
	assert_int_equal(pwrite(in, data, sizeof(data), 0), (ssize_t)sizeof(data));
	assert_int_equal(session_with(ECHO, 0, in, out, errf, &err), 3);
	assert_int_equal(memfd_read(out, back, sizeof(back)), sizeof(data));
	assert_memory_equal(back, data, sizeof(data));
	assert_int_equal(memfd_read(errf, back, sizeof(back)), 3);
	assert_memory_equal(back, "err", 3);
	close(in);
	close(out);
	close(errf);
}

static void test_session_hostile(void **state)
{
	int out = memfd_create("out", MFD_CLOEXEC);
	struct hull_err err = { 0 };
	int r;

	r = session_with(ERROR_FRAME, 0, -1, out, -1, &err);
	assert_int_equal(r, -EPROTO);
	assert_non_null(strstr(err.msg, "refused: no?way?"));
	hull_err_clear(&err);
	assert_int_equal(session_with(BIG_LEN, 0, -1, out, -1, &err), -EPROTO);
	hull_err_clear(&err);
	assert_int_equal(session_with(HANGUP, 0, -1, out, -1, &err), -ECONNRESET);
	for (uint32_t seed = 1; seed <= 300; seed++) {
		hull_err_clear(&err);
		r = session_with(HOSTILE, seed, -1, out, -1, &err);
		/* refused, cut off, or (rarely) an EXIT the junk happened to spell */
		assert_true(r == -EPROTO || r == -ECONNRESET || (r >= 0 && r <= 383));
		if (r < 0)
			assert_true(err.msg[0] != '\0');
	}
	close(out);
}

/* CLOCK (a restored guest's wall clock): the client's frame, read by the agent's reader. */
static void test_clock_frame(void **state)
{
	static struct agent_rx rx;
	struct hull_err err = { 0 };
	struct timespec ts;
	const uint8_t *pl;
	uint16_t type;
	uint32_t len;
	uint64_t sec;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vm_agent_clock(sv[0], &err), 0);
	memset(&rx, 0, sizeof(rx));
	assert_int_equal(fake_read(sv[1], &rx, &type, &pl, &len), 1);
	assert_int_equal(type, HULL_AGENT_CLOCK);
	assert_int_equal(len, 12);
	sec = (uint64_t)hull_agent_get32(pl) | (uint64_t)hull_agent_get32(pl + 4) << 32;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	assert_true(sec <= (uint64_t)ts.tv_sec && sec + 60 >= (uint64_t)ts.tv_sec);
	assert_true(hull_agent_get32(pl + 8) < 1000000000u);
	close(sv[0]);
	close(sv[1]);
}

static void test_hello(void **state)
{
	struct vm_agent_hello h;
	struct hull_err err = { 0 };
	uint8_t f[16];
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	hull_agent_hdr_put(f, HULL_AGENT_HELLO, 8);
	hull_agent_put32(f + 8, HULL_AGENT_VERSION);
	hull_agent_put32(f + 12, HULL_AGENT_STATE_RUNNING);
	assert_int_equal(write(sv[1], f, 16), 16);
	assert_int_equal(vm_agent_hello(sv[0], 1000, &h, &err), 0);
	assert_int_equal(h.state, HULL_AGENT_STATE_RUNNING);
	hull_agent_put32(f + 8, 99); /* another version */
	assert_int_equal(write(sv[1], f, 16), 16);
	assert_int_equal(vm_agent_hello(sv[0], 1000, &h, &err), -EPROTO);
	hull_agent_hdr_put(f, HULL_AGENT_HELLO, 0x10000000); /* absurd */
	assert_int_equal(write(sv[1], f, 8), 8);
	assert_int_equal(vm_agent_hello(sv[0], 1000, &h, &err), -EPROTO);
	close(sv[1]); /* cut off mid-HELLO */
	assert_int_equal(vm_agent_hello(sv[0], 1000, &h, &err), -ECONNRESET);
	close(sv[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_decode_roundtrip),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_decode_hostile),
		cmocka_unit_test(test_agent_rx),
		cmocka_unit_test(test_session_echo),
		cmocka_unit_test(test_session_hostile),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_clock_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
