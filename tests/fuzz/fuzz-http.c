/*
 * Fuzz target for the control API's HTTP parser and router (src/vmm/http.c, api-routes.c),
 * with the replay main of fuzz-replay.h for builds without libFuzzer: `fuzz-http-replay
 * FILE...`. tests/fuzz/run-http builds the libFuzzer one.
 *
 * The input's first byte seeds how the rest is split into reads; the rest arrives as a
 * connection receives it and each complete request is routed on a VM that was never started
 * (no vCPUs, no devices): pause, resume and power-off act on it, but a shutdown request is
 * skipped (it presses keys on an i8042 this VM does not have). Errors are expected; crashes,
 * leaks, sanitizer reports and a request reported past the bytes received are bugs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/api-routes.h"
#include "vmm/http.h"
#include "vmm/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void route(const struct http_request *req)
{
	static struct vm vm;
	static struct vm_config cfg;
	static int init;
	struct api_reply rep;

	if (!init) {
		vm_config_init(&cfg);
		cfg.kernel = "vmlinuz";
		vm.cfg = &cfg;
		pthread_mutex_init(&vm.lock, NULL);
		pthread_cond_init(&vm.cond, NULL);
		vm.stop_efd = -1;
		vm.mem.size = 64ULL << 20;
		init = 1;
	}
	if (memmem(req->body, req->body_len, "shutdown", 8) ||
	    memmem(req->body, req->body_len, "CtrlAltDel", 10))
		return;
	api_route_request(&vm, req, &rep);
	if (rep.status < 200 || rep.status > 599)
		abort();
	free(rep.body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_parser p;
	uint32_t seed;
	size_t fed = 0, have = 0;
	char *conn;

	if (size < 1)
		return 0;
	seed = data[0] | 1u;
	data++;
	size--;
	conn = malloc(size ? size : 1);
	if (!conn)
		abort();
	http_parser_reset(&p);
	while (fed < size) {
		struct http_request req;
		size_t chunk;
		int r;

		seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
		chunk = 1 + seed % 64;
		if (chunk > size - fed)
			chunk = size - fed;
		memcpy(conn + have, data + fed, chunk);
		fed += chunk;
		have += chunk;
		while ((r = http_parse(&p, conn, have, &req)) > 0) {
			if ((size_t)r > have || req.body + req.body_len > conn + r)
				abort();
			route(&req);
			memmove(conn, conn + r, have - (size_t)r);
			have -= (size_t)r;
			http_parser_reset(&p);
		}
		if (r < 0)
			break; /* the server answers p.status and closes */
	}
	free(conn);
	return 0;
}

#include "fuzz-replay.h"
