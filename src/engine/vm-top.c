/*
 * `hull top` on a VM container: TOP to the guest agent, TOP_REPLY decoded (proto.h). The reply
 * comes from the guest, which may be hostile: every count and length is checked against the
 * payload before it is used, pids must be positive, and the command line is copied with its
 * control bytes replaced, so nothing the guest writes reaches the user's terminal as an escape.
 */
#include "engine/vm-top.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../guest/agent/proto.h"
#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "engine/vm-agent.h"

#define HDR sizeof(struct hull_agent_hdr)

/* One entry at pl + *pos (len bytes in all) into p: 0 or -EPROTO. */
static int decode_one(const uint8_t *pl, uint32_t len, size_t *pos, struct ctr_proc *p,
		      long hz, struct hull_err *err)
{
	const uint8_t *e = pl + *pos;
	uint32_t pid, ppid, cl;
	uint64_t ms;

	if (len - *pos < sizeof(struct hull_agent_top_wire))
		return hull_err_setx(err, EPROTO, "TOP_REPLY: an entry past the payload's end");
	pid = hull_agent_get32(e);
	ppid = hull_agent_get32(e + 4);
	cl = hull_agent_get32(e + 12);
	if (pid == 0 || pid > INT32_MAX || ppid > INT32_MAX)
		return hull_err_setx(err, EPROTO, "TOP_REPLY: pid %u (parent %u) out of range", pid,
				     ppid);
	if (cl > HULL_AGENT_TOP_CMD_MAX || cl > len - *pos - sizeof(struct hull_agent_top_wire))
		return hull_err_setx(err, EPROTO, "TOP_REPLY: a command line of %u bytes", cl);
	ms = hull_agent_get64(e + 16);
	p->pid = (pid_t)pid;
	p->ppid = (pid_t)ppid;
	p->uid = (uid_t)hull_agent_get32(e + 8);
	/* ms < 2^64 / hz: no overflow for any hz a kernel has */
	p->cpu_ticks = ms / 1000u * (uint64_t)hz + ms % 1000u * (uint64_t)hz / 1000u;
	p->rss_bytes = hull_agent_get64(e + 24);
	p->cmd = xcalloc(1, (size_t)cl + 1);
	for (uint32_t i = 0; i < cl; i++) {
		uint8_t b = e[sizeof(struct hull_agent_top_wire) + i];

		p->cmd[i] = (char)(b < 0x20 || b == 0x7f ? '?' : b);
	}
	*pos += sizeof(struct hull_agent_top_wire) + cl;
	return 0;
}

int vm_top_decode(const uint8_t *pl, uint32_t len, struct ctr_proc **ret, size_t *ret_n,
		  bool *ret_truncated, struct hull_err *err)
{
	struct ctr_proc *v = NULL;
	uint32_t n, flags;
	size_t pos = 8, i;
	long hz = sysconf(_SC_CLK_TCK);

	if (len < 8 || len > HULL_AGENT_MAX_PAYLOAD)
		return hull_err_setx(err, EPROTO, "TOP_REPLY: %u bytes", len);
	n = hull_agent_get32(pl);
	flags = hull_agent_get32(pl + 4);
	if (n > HULL_AGENT_TOP_MAX || (flags & ~HULL_AGENT_TOP_TRUNCATED))
		return hull_err_setx(err, EPROTO, "TOP_REPLY: %u processes, flags %#x", n, flags);
	/* each entry takes its fixed part at least: a count the payload cannot hold is a lie */
	if (n > (len - 8) / sizeof(struct hull_agent_top_wire))
		return hull_err_setx(err, EPROTO, "TOP_REPLY: %u processes in %u bytes", n, len);
	v = xcalloc(n ? n : 1, sizeof(*v));
	for (i = 0; i < n; i++)
		if (decode_one(pl, len, &pos, &v[i], hz > 0 ? hz : 100, err) < 0)
			break;
	if (i == n && pos != len)
		(void)hull_err_setx(err, EPROTO, "TOP_REPLY: %zu bytes after the last entry",
				    (size_t)len - pos);
	if (i < n || pos != len) {
		ctr_procs_free(v, i);
		return -EPROTO;
	}
	*ret = v;
	*ret_n = n;
	if (ret_truncated)
		*ret_truncated = flags & HULL_AGENT_TOP_TRUNCATED;
	return 0;
}

int vm_top_request(int fd, int timeout_ms, struct ctr_proc **ret, size_t *ret_n,
		   struct hull_err *err)
{
	cleanup_free uint8_t *pl = xmalloc(HULL_AGENT_MAX_PAYLOAD);
	uint8_t frame[HDR];
	uint16_t type = 0;
	uint32_t len = 0;
	int r;

	hull_agent_hdr_put(frame, HULL_AGENT_TOP, 0);
	r = fd_write_all(fd, frame, sizeof(frame));
	if (r < 0)
		return hull_err_set(err, -r, "the guest agent: TOP");
	r = vm_agent_read_frame(fd, timeout_ms, &type, pl, &len, err);
	if (r < 0)
		return hull_err_prefix(err, "TOP");
	if (type == HULL_AGENT_ERROR)
		return hull_err_setx(err, EPROTO, "the guest agent refused TOP (an older agent?)");
	if (type != HULL_AGENT_TOP_REPLY)
		return hull_err_setx(err, EPROTO, "the guest agent answered TOP with a frame of "
				     "type %u", type);
	return vm_top_decode(pl, len, ret, ret_n, NULL, err);
}

int vm_agent_top(uint32_t cid, int timeout_ms, struct ctr_proc **ret, size_t *ret_n,
		 struct hull_err *err)
{
	cleanup_close int fd = -1;
	int r = vm_agent_connect(cid, timeout_ms, &fd, NULL, err);

	return r < 0 ? r : vm_top_request(fd, timeout_ms, ret, ret_n, err);
}
