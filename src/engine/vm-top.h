#pragma once
/*
 * `hull top` on a VM container (guest18): a TOP session with the guest agent (proto.h), and
 * the decoder of its TOP_REPLY, which trusts nothing the guest sent.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "engine/procs.h"

/*
 * Decode a TOP_REPLY payload into *ret (ctr_procs_free), *ret_n entries, *ret_truncated
 * whether the guest had more. -EPROTO (err names what is wrong) for any count, length, pid or
 * byte out of bounds; a command line's control bytes become '?'.
 */
int vm_top_decode(const uint8_t *pl, uint32_t len, struct ctr_proc **ret, size_t *ret_n,
		  bool *ret_truncated, struct hull_err *err);

/* TOP on a connected agent session fd (after its HELLO), then decode the answer. */
int vm_top_request(int fd, int timeout_ms, struct ctr_proc **ret, size_t *ret_n,
		   struct hull_err *err);

/* The same on a new connection to the guest with vsock context cid. */
int vm_agent_top(uint32_t cid, int timeout_ms, struct ctr_proc **ret, size_t *ret_n,
		 struct hull_err *err);
