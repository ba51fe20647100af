/*
 * The control API's HTTP parser (src/vmm/http.c) and router (src/vmm/api-routes.c), with
 * generated hostile input: valid pipelined requests split at seeded random points, random
 * bytes, mutated requests, oversize fields. The parser must give the same requests however
 * the bytes arrive, decide within its bounds (never "need more" past HTTP_MAX_HEAD bytes of
 * head), and answer every defect with a 4xx/5xx it names. The router answers 404, 405 (with
 * Allow), 501, and 400 with Firecracker's {"fault_message"} for every bad body.
 */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "vmm/api-routes.h"
#include "vmm/http.h"
#include "vmm/vm.h"

#define SEED 0x16a91u
#define ROUNDS 2000

static uint32_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift32: the same sequence on every machine, printed seed reproduces a failure */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* Parse one complete request from text; returns http_parse's result. */
static int parse_all(const char *text, size_t len, struct http_request *req,
		     struct http_parser *p)
{
	http_parser_reset(p);
	return http_parse(p, text, len, req);
}

static void expect_status(const char *text, size_t len, int status)
{
	struct http_parser p;
	struct http_request req;
	int r = parse_all(text, len, &req, &p);

	if (r != -EBADMSG || p.status != status)
		fail_msg("'%.60s': got %d status %d, expected %d", text, r, p.status, status);
	assert_non_null(p.error);
}

static void test_valid_requests(void **state)
{
	static const char get[] = "GET /machine-config HTTP/1.1\r\nHost: localhost\r\n\r\n";
	static const char put[] = "PUT /actions?x=1 HTTP/1.1\r\nContent-Length: 23\r\n"
				  "Connection: close\r\n\r\n{\"action_type\":\"pause\"}";
	static const char v10[] = "GET / HTTP/1.0\n\n";
	static const char v10ka[] = "GET / HTTP/1.0\nConnection: Keep-Alive\n\n";
	struct http_parser p;
	struct http_request req;

	assert_int_equal(parse_all(get, strlen(get), &req, &p), (int)strlen(get));
	assert_int_equal(req.method, HTTP_GET);
	assert_int_equal(req.path_len, strlen("/machine-config"));
	assert_memory_equal(req.path, "/machine-config", req.path_len);
	assert_true(req.keep_alive);
	assert_int_equal(req.body_len, 0);

	assert_int_equal(parse_all(put, strlen(put), &req, &p), (int)strlen(put));
	assert_int_equal(req.method, HTTP_PUT);
	assert_memory_equal(req.path, "/actions", req.path_len); /* the query is dropped */
	assert_int_equal(req.path_len, 8);
	assert_int_equal(req.body_len, 23);
	assert_memory_equal(req.body, "{\"action_type\":\"pause\"}", 23);
	assert_false(req.keep_alive);

	assert_int_equal(parse_all(v10, strlen(v10), &req, &p), (int)strlen(v10));
	assert_false(req.keep_alive);
	assert_int_equal(parse_all(v10ka, strlen(v10ka), &req, &p), (int)strlen(v10ka));
	assert_true(req.keep_alive);

	/* every prefix is incomplete, never an error */
	for (size_t i = 0; i < strlen(put); i++)
		assert_int_equal(parse_all(put, i, &req, &p), 0);
}

static void test_bad_requests(void **state)
{
	static const struct {
		const char *text;
		int status;
	} cases[] = {
		{ "not json\n", 400 },
		{ "\r\n\r\n", 400 },
		{ "GET\r\n\r\n", 400 },
		{ "GET  / HTTP/1.1\r\n\r\n", 400 },
		{ "GET http://x/ HTTP/1.1\r\n\r\n", 400 },
		{ "GET / HTTP/2.0\r\n\r\n", 505 },
		{ "GET / HTTP/1.1 x\r\n\r\n", 400 },
		{ "GET / FTP/1.1\r\n\r\n", 400 },
		{ "G(T / HTTP/1.1\r\n\r\n", 400 },
		{ "GET /a\rb HTTP/1.1\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: \r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", 413 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 99999999999999999999999999999\r\n\r\n", 413 },
		{ "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", 411 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_status(cases[i].text, strlen(cases[i].text), cases[i].status);
	/* a NUL in the request line */
	expect_status("GET /\0 HTTP/1.1\r\n\r\n", 20, 400);
}

static void test_oversize(void **state)
{
	size_t big = HTTP_MAX_HEAD + 100;
	char *buf = xmalloc(big);
	struct http_parser p;
	struct http_request req;
	int n;

	/* a header that never ends: decided at HTTP_MAX_HEAD bytes, not later */
	n = snprintf(buf, big, "GET / HTTP/1.1\r\nX: ");
	memset(buf + n, 'a', big - (size_t)n);
	assert_int_equal(parse_all(buf, HTTP_MAX_HEAD - 1, &req, &p), 0);
	expect_status(buf, HTTP_MAX_HEAD, 431);
	expect_status(buf, big, 431);
	/* a long target */
	n = snprintf(buf, big, "GET /%0300d HTTP/1.1\r\n\r\n", 0);
	expect_status(buf, (size_t)n, 414);
	free(buf);
	/* 65 header lines */
	{
		char *h = xasprintf("GET / HTTP/1.1\r\n");

		for (int i = 0; i < 65; i++) {
			char *t = xasprintf("%sX-%d: y\r\n", h, i);

			free(h);
			h = t;
		}
		{
			char *t = xasprintf("%s\r\n", h);

			free(h);
			h = t;
		}
		expect_status(h, strlen(h), 431);
		free(h);
	}
	/* a body of exactly HTTP_MAX_BODY is accepted */
	buf = xasprintf("PUT /x HTTP/1.1\r\nContent-Length: %u\r\n\r\n", HTTP_MAX_BODY);
	n = (int)strlen(buf);
	buf = xrealloc(buf, (size_t)n + HTTP_MAX_BODY);
	memset(buf + n, '{', HTTP_MAX_BODY);
	assert_int_equal(parse_all(buf, (size_t)n + HTTP_MAX_BODY - 1, &req, &p), 0);
	assert_int_equal(parse_all(buf, (size_t)n + HTTP_MAX_BODY, &req, &p),
			 n + (int)HTTP_MAX_BODY);
	free(buf);
}

/* A request stream: count requests with random methods, paths, headers and bodies. */
static char *make_stream(unsigned count, size_t *ret_len, size_t *bodies)
{
	static const char *const methods[] = { "GET", "PUT", "PATCH", "POST", "DELETE" };
	static const char *const paths[] = { "/", "/actions", "/vm", "/metrics", "/drives/d0" };
	char *s = xasprintf("%s", "");

	for (unsigned i = 0; i < count; i++) {
		size_t blen = rnd() % 200;
		char *body = xmalloc(blen + 1), *t;

		for (size_t k = 0; k < blen; k++)
			body[k] = (char)('a' + rnd() % 26);
		body[blen] = '\0';
		bodies[i] = blen;
		t = xasprintf("%s%s %s HTTP/1.1%sX-Pad: %u\r\nContent-Length: %zu\r\n%s\r\n%s", s,
			      methods[rnd() % 5], paths[rnd() % 5], rnd() % 2 ? "\r\n" : "\n",
			      rnd(), blen, rnd() % 3 ? "" : "Connection: keep-alive\r\n", body);
		free(s);
		free(body);
		s = t;
	}
	*ret_len = strlen(s);
	return s;
}

/*
 * Feed a pipelined stream as a connection receives it, in random chunks, consuming each
 * request as the server does: the same requests as the stream holds, in order.
 */
static void test_random_splits(void **state)
{
	rng_state = SEED;
	for (int round = 0; round < ROUNDS / 4; round++) {
		size_t bodies[8], len, got = 0, have = 0, fed = 0;
		unsigned count = 1 + rnd() % 8;
		char *stream = make_stream(count, &len, bodies);
		char *conn = xmalloc(len);
		struct http_parser p;

		http_parser_reset(&p);
		while (fed < len || have) {
			struct http_request req;
			size_t chunk = 1 + rnd() % (rnd() % 2 ? 7 : 300);
			int r;

			if (chunk > len - fed)
				chunk = len - fed;
			memcpy(conn + have, stream + fed, chunk);
			fed += chunk;
			have += chunk;
			while ((r = http_parse(&p, conn, have, &req)) > 0) {
				assert_true(got < count);
				assert_int_equal(req.body_len, bodies[got]);
				got++;
				memmove(conn, conn + r, have - (size_t)r);
				have -= (size_t)r;
				http_parser_reset(&p);
			}
			if (r < 0)
				fail_msg("seed %#x round %d: status %d: %s", SEED, round, p.status,
					 p.error);
			if (fed == len && r == 0 && have)
				fail_msg("seed %#x round %d: %zu bytes left over", SEED, round, have);
		}
		assert_int_equal(got, count);
		free(conn);
		free(stream);
	}
}

/* Whatever the bytes: a request within the buffer, "more" within bounds, or a 4xx/5xx. */
static void check_outcome(const char *buf, size_t len)
{
	struct http_parser p;
	struct http_request req;
	int r = parse_all(buf, len, &req, &p);

	if (r > 0) {
		assert_true((size_t)r <= len);
		assert_true(req.path >= buf && req.path + req.path_len <= buf + len);
		assert_true(req.body >= buf && req.body + req.body_len <= buf + (size_t)r);
		assert_true(req.body_len <= HTTP_MAX_BODY);
	} else if (r == 0) {
		assert_true(len < HTTP_MAX_HEAD + HTTP_MAX_BODY);
	} else {
		assert_int_equal(r, -EBADMSG);
		assert_true(p.status == 400 || p.status == 411 || p.status == 413 ||
			    p.status == 414 || p.status == 431 || p.status == 505);
		assert_non_null(p.error);
	}
}

static void test_random_bytes(void **state)
{
	char *buf = xmalloc(HTTP_MAX_HEAD + 512);

	rng_state = SEED + 1;
	for (int round = 0; round < ROUNDS; round++) {
		size_t len = rnd() % (round % 10 ? 600 : HTTP_MAX_HEAD + 512);
		/* mostly printable with line breaks, sometimes anything */
		for (size_t i = 0; i < len; i++)
			buf[i] = round % 3 ? " \r\n:/GETPUHT1.0a"[rnd() % 16] : (char)rnd();
		check_outcome(buf, len);
	}
	free(buf);
}

static void test_mutated_requests(void **state)
{
	rng_state = SEED + 2;
	for (int round = 0; round < ROUNDS; round++) {
		size_t bodies[2], len;
		char *s = make_stream(1 + rnd() % 2, &len, bodies);
		unsigned flips = 1 + rnd() % 4;

		for (unsigned f = 0; f < flips; f++)
			s[rnd() % len] = (char)rnd();
		check_outcome(s, len);
		/* and every prefix of it */
		for (size_t cut = 0; cut < len; cut += 1 + rnd() % 16)
			check_outcome(s, cut);
		free(s);
	}
}

/* The router on a VM that was never started (no vCPUs): what it answers, not what it does. */
static struct vm test_vm;
static struct vm_config test_cfg;

static int setup_vm(void **state)
{
	static const struct vm_disk_config disk = { .path = "/tmp/d.raw", .readonly = true };

	vm_config_init(&test_cfg);
	test_cfg.kernel = "/boot/vmlinuz";
	test_cfg.disks = &disk;
	test_cfg.n_disks = 1;
	memset(&test_vm, 0, sizeof(test_vm));
	test_vm.cfg = &test_cfg;
	pthread_mutex_init(&test_vm.lock, NULL);
	pthread_cond_init(&test_vm.cond, NULL);
	test_vm.ncpus = 0;
	test_vm.mem.size = 64ULL << 20;
	test_vm.stop_efd = -1;
	return 0;
}

static int teardown_vm(void **state)
{
	pthread_mutex_destroy(&test_vm.lock);
	pthread_cond_destroy(&test_vm.cond);
	return 0;
}

static int route(const char *method, const char *path, const char *body, char **ret_body,
		 const char **ret_allow)
{
	char *text = xasprintf("%s %s HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s", method, path,
			       body ? strlen(body) : 0, body ? body : "");
	struct http_parser p;
	struct http_request req;
	struct api_reply rep;

	assert_int_equal(parse_all(text, strlen(text), &req, &p), (int)strlen(text));
	api_route_request(&test_vm, &req, &rep);
	free(text);
	*ret_body = rep.body;
	if (ret_allow)
		*ret_allow = rep.allow;
	return rep.status;
}

/* status, and a {"fault_message": "...containing want..."} body */
static void expect_fault(const char *method, const char *path, const char *body, int status,
			 const char *want)
{
	char *out = NULL;
	int got = route(method, path, body, &out, NULL);
	json_t *j = out ? json_loads(out, 0, NULL) : NULL;
	const char *msg = j ? json_string_value(json_object_get(j, "fault_message")) : NULL;

	if (got != status || !msg || (want && !strstr(msg, want)))
		fail_msg("%s %s %s: %d %s, expected %d with '%s'", method, path, body ? body : "",
			 got, out ? out : "(no body)", status, want ? want : "");
	json_decref(j);
	free(out);
}

static void test_router(void **state)
{
	const char *allow = NULL;
	char *out = NULL;
	size_t n;
	const struct api_route *rt = api_route_table(&n);

	expect_fault("GET", "/nope", NULL, 404, "/nope");
	expect_fault("GET", "/drives/", NULL, 404, NULL);
	expect_fault("PATCH", "/drives/a/b", "{}", 404, NULL);
	expect_fault("PATCH", "/drives/bad%20id", "{}", 404, NULL);
	expect_fault("FOO", "/metrics", NULL, 405, "GET");
	expect_fault("DELETE", "/actions", NULL, 405, "PUT");
	assert_int_equal(route("POST", "/vm", NULL, &out, &allow), 405);
	assert_string_equal(allow, "PATCH");
	free(out);
	assert_int_equal(route("HEAD", "/machine-config", NULL, &out, &allow), 405);
	assert_string_equal(allow, "GET, PATCH");
	free(out);
	/* a field name that is not UTF-8, quoted in the fault: '?' for it, no abort (fuzz-http) */
	expect_fault("PUT", "/actions", "{\"a\\u00e9\xed\x8b\x9f\": 1}", 400, NULL);
	expect_fault("PUT", "/actions", "{\"a\\\xed\x8b\x9f_typea\\\"\\u15u\xf9\xaf\xaa", 400, NULL);
	expect_fault("PUT", "/actions", "{\"\x01\x7f\": 1}", 400, NULL);
	/* routes not implemented yet: 501 whatever the body */
	expect_fault("PATCH", "/machine-config", "{\"vcpu_count\": 2}", 501, "not implemented");
	/* the resize routes (api-resize.c) on a VM without a balloon or that disk */
	expect_fault("PATCH", "/balloon", "{\"amount_mib\": 1}", 400, "no balloon");
	expect_fault("PATCH", "/drives/drive0", "{}", 404, "not a --disk number");
	expect_fault("PATCH", "/drives/0", "garbage", 400, NULL);
	expect_fault("PUT", "/network-interfaces/eth0", NULL, 400, "JSON body is required");
	/* bad bodies */
	expect_fault("PUT", "/actions", NULL, 400, "body is required");
	expect_fault("PUT", "/actions", "{", 400, "body");
	expect_fault("PUT", "/actions", "[1]", 400, "JSON object");
	expect_fault("PUT", "/actions", "{}", 400, "action_type");
	expect_fault("PUT", "/actions", "{\"action_type\": 3}", 400, "action_type");
	expect_fault("PUT", "/actions", "{\"action_type\": \"explode\"}", 400, "explode");
	expect_fault("PUT", "/actions", "{\"action_type\": \"pause\", \"x\": 1}", 400, "'x'");
	expect_fault("PATCH", "/vm", "{\"state\": \"Sleeping\"}", 400, "Sleeping");
	expect_fault("PATCH", "/vm", "{\"state\": null}", 400, "state");
	/* the working ones on this VM */
	assert_int_equal(route("PUT", "/actions", "{\"action_type\": \"pause\"}", &out, NULL), 204);
	assert_null(out);
	assert_true(test_vm.paused);
	assert_int_equal(route("PATCH", "/vm", "{\"state\": \"Resumed\"}", &out, NULL), 204);
	assert_false(test_vm.paused);
	assert_int_equal(route("GET", "/machine-config/", NULL, &out, NULL), 200);
	assert_non_null(strstr(out, "\"mem_size_mib\":64"));
	free(out);
	assert_int_equal(route("GET", "/", NULL, &out, NULL), 200);
	assert_non_null(strstr(out, "\"state\":\"Running\""));
	free(out);
	assert_int_equal(route("GET", "/vm/config", NULL, &out, NULL), 200);
	assert_non_null(strstr(out, "\"path_on_host\":\"/tmp/d.raw\""));
	assert_non_null(strstr(out, "\"kernel_image_path\":\"/boot/vmlinuz\""));
	free(out);
	/* every route's path starts with '/', and a method appears once per path */
	for (size_t i = 0; i < n; i++) {
		assert_true(rt[i].path[0] == '/');
		for (size_t j = i + 1; j < n; j++)
			assert_false(rt[i].method == rt[j].method &&
				     strcmp(rt[i].path, rt[j].path) == 0);
	}
}

static void test_lines(void **state)
{
	char *out = api_lines_request(&test_vm, "{\"op\":\"status\"}", 15);

	assert_non_null(strstr(out, "\"state\":\"running\""));
	free(out);
	out = api_lines_request(&test_vm, "{\"op\":\"explode\"}", 16);
	assert_non_null(strstr(out, "\"ok\":false"));
	free(out);
	out = api_lines_request(&test_vm, "{not json", 9);
	assert_non_null(strstr(out, "\"ok\":false"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_requests),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_random_splits),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_mutated_requests),
		cmocka_unit_test_setup_teardown(test_router, setup_vm, teardown_vm),
		cmocka_unit_test_setup_teardown(test_lines, setup_vm, teardown_vm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
