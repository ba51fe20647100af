/* The agent's frame reader and RUN/EXEC decoder (wire.h): every length checked before use. */
#include <stdlib.h>
#include <string.h>

#include "wire.h"

size_t agent_rx_want(const struct agent_rx *rx, uint8_t **ret_at)
{
	const size_t hdr = sizeof(struct hull_agent_hdr);

	*ret_at = (uint8_t *)rx->buf + rx->have;
	if (rx->have < hdr)
		return hdr - rx->have;
	/* the header was checked when it completed: its length is within the buffer */
	return hdr + hull_agent_get32(rx->buf) - rx->have;
}

int agent_rx_got(struct agent_rx *rx, size_t n, uint16_t *type, const uint8_t **payload,
		 uint32_t *len)
{
	const size_t hdr = sizeof(struct hull_agent_hdr);
	uint16_t t;
	uint32_t l;

	rx->have += n;
	if (rx->have < hdr)
		return 0;
	if (hull_agent_hdr_get(rx->buf, &t, &l) < 0 || !hull_agent_from_host(t) ||
	    !hull_agent_shape_ok(t, l))
		return -1;
	if (rx->have < hdr + l)
		return 0;
	*type = t;
	*payload = rx->buf + hdr;
	*len = l;
	return 1;
}

void agent_rx_next(struct agent_rx *rx)
{
	rx->have = 0;
}

/* The next NUL-terminated string at *pos in [p, p+len): NULL when none ends before len. */
static char *take_string(char *p, uint32_t len, uint32_t *pos)
{
	char *s = p + *pos;
	char *nul;

	if (*pos >= len)
		return NULL;
	nul = memchr(s, '\0', len - *pos);
	if (!nul)
		return NULL;
	*pos = (uint32_t)(nul - p) + 1;
	return s;
}

static const char *decode_strings(struct agent_req *r, uint32_t len, uint32_t pos,
				  unsigned n_args, unsigned n_env)
{
	const char **tail[] = { &r->cwd, &r->hostname, &r->hosts, &r->resolv };

	for (unsigned i = 0; i < n_args; i++)
		if (!(r->args[i] = take_string(r->mem, len, &pos)))
			return "RUN: an argument runs past the payload";
	r->args[n_args] = NULL;
	for (unsigned i = 0; i < n_env; i++) {
		r->env[i] = take_string(r->mem, len, &pos);
		if (!r->env[i])
			return "RUN: an environment entry runs past the payload";
		if (!strchr(r->env[i], '=') || r->env[i][0] == '=')
			return "RUN: an environment entry is not K=V";
	}
	r->env[n_env] = NULL;
	for (unsigned i = 0; i < 4; i++)
		if (!(*tail[i] = take_string(r->mem, len, &pos)))
			return "RUN: cwd, hostname, hosts or resolv.conf missing";
	if (pos != len)
		return "RUN: bytes after the last string";
	if (!r->args[0][0])
		return "RUN: an empty command";
	if (strlen(r->hostname) > HULL_AGENT_HOSTNAME_MAX)
		return "RUN: hostname longer than 64 bytes";
	if (r->cwd[0] && r->cwd[0] != '/')
		return "RUN: the working directory is not absolute";
	return NULL;
}

const char *agent_req_decode(const uint8_t *p, uint32_t len, struct agent_req **ret)
{
	struct agent_req *r;
	uint32_t flags, pos;
	unsigned n_args, n_env, n_gids;
	const char *why;

	*ret = NULL;
	if (len < sizeof(struct hull_agent_proc_wire) || len > HULL_AGENT_MAX_PAYLOAD)
		return "RUN: payload shorter than its header";
	flags = hull_agent_get32(p + 8);
	n_args = hull_agent_get16(p + 16);
	n_env = hull_agent_get16(p + 18);
	n_gids = hull_agent_get16(p + 20);
	if (flags & ~HULL_AGENT_PROC_ALL || hull_agent_get16(p + 22) != 0)
		return "RUN: unknown flags";
	if (n_args < 1 || n_args > HULL_AGENT_MAX_ARGS || n_env > HULL_AGENT_MAX_ENV ||
	    n_gids > HULL_AGENT_MAX_GIDS)
		return "RUN: too many (or no) arguments, environment entries or groups";
	pos = (uint32_t)sizeof(struct hull_agent_proc_wire);
	if ((uint64_t)n_gids * 4 > len - pos)
		return "RUN: the groups run past the payload";
	/* the copy gets a NUL after it so that a string scan can never leave it */
	r = calloc(1, sizeof(*r) + len + 1);
	if (!r)
		return "RUN: out of memory";
	memcpy(r->mem, p, len);
	r->uid = hull_agent_get32(p);
	r->gid = hull_agent_get32(p + 4);
	r->flags = flags;
	r->rows = hull_agent_get16(p + 12);
	r->cols = hull_agent_get16(p + 14);
	r->n_gids = n_gids;
	for (unsigned i = 0; i < n_gids; i++, pos += 4)
		r->gids[i] = hull_agent_get32(p + pos);
	why = decode_strings(r, len, pos, n_args, n_env);
	if (why) {
		free(r);
		return why;
	}
	*ret = r;
	return NULL;
}

void agent_req_free(struct agent_req *r)
{
	free(r);
}
