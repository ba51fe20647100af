#pragma once
/*
 * The agent's side of proto.h: the frame reader and the RUN/EXEC decoder. No I/O and no
 * globals, so that the unit tests (tests/unit/engine/test-vm-agent.c) compile it as it is
 * and feed it hostile bytes.
 */
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/*
 * A frame being received. Reads ask for exactly what the current frame still lacks
 * (agent_rx_want), so a frame never straddles two reads' worth of buffer and nothing moves.
 */
struct agent_rx {
	uint8_t buf[sizeof(struct hull_agent_hdr) + HULL_AGENT_MAX_PAYLOAD];
	size_t have;
};

/* Where the next read goes and how many bytes it may take (> 0). */
size_t agent_rx_want(const struct agent_rx *rx, uint8_t **ret_at);
/*
 * After n bytes landed at agent_rx_want's address: 1 with a whole frame in type, payload and
 * len (valid until agent_rx_next), 0 when more is needed, -1 when the bytes are not a frame
 * a host may send (too long, unknown, the agent's own types, a wrong fixed size).
 */
int agent_rx_got(struct agent_rx *rx, size_t n, uint16_t *type, const uint8_t **payload,
		 uint32_t *len);
void agent_rx_next(struct agent_rx *rx);

/* A decoded RUN/EXEC; the strings point into .mem, one allocation freed by agent_req_free. */
struct agent_req {
	uint32_t uid, gid, flags;
	uint16_t rows, cols;
	size_t n_gids;
	uint32_t gids[HULL_AGENT_MAX_GIDS];
	char *args[HULL_AGENT_MAX_ARGS + 1]; /* NULL-terminated */
	char *env[HULL_AGENT_MAX_ENV + 1];   /* NULL-terminated */
	const char *cwd, *hostname, *hosts, *resolv;
	char mem[];
};

/*
 * Decode a RUN/EXEC payload. Returns NULL and a new request in *ret, or a message saying what
 * is wrong (a static string) for the ERROR frame.
 */
const char *agent_req_decode(const uint8_t *p, uint32_t len, struct agent_req **ret);
void agent_req_free(struct agent_req *r);
