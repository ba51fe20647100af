/* The device-state byte stream (state.h): a growing writer and a bounds-checked reader. */
#include "vmm/state.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint32_t crc(const uint8_t *p, size_t len)
{
	/* zlib's crc32 takes a uInt length: sections are bounded by VM_STATE_MAX. */
	return (uint32_t)crc32(0L, p, (uInt)len);
}

static void put(struct state_writer *w, const void *p, size_t len)
{
	if (w->err)
		return;
	if (len > VM_STATE_MAX - w->len) {
		w->err = -EFBIG;
		return;
	}
	if (w->len + len > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		uint8_t *n;

		while (cap < w->len + len)
			cap *= 2;
		n = realloc(w->buf, cap);
		if (!n) {
			w->err = -ENOMEM;
			return;
		}
		w->buf = n;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, p, len);
	w->len += len;
}

void state_writer_init(struct state_writer *w)
{
	memset(w, 0, sizeof(*w));
	put(w, VM_STATE_MAGIC, 8);
	state_put_u32(w, VM_STATE_VERSION);
}

void state_writer_release(struct state_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

void state_put_u8(struct state_writer *w, uint8_t v)
{
	put(w, &v, 1);
}

void state_put_u16(struct state_writer *w, uint16_t v)
{
	v = htole16(v);
	put(w, &v, 2);
}

void state_put_u32(struct state_writer *w, uint32_t v)
{
	v = htole32(v);
	put(w, &v, 4);
}

void state_put_u64(struct state_writer *w, uint64_t v)
{
	v = htole64(v);
	put(w, &v, 8);
}

void state_put_bytes(struct state_writer *w, const void *p, size_t len)
{
	put(w, p, len);
}

void state_begin(struct state_writer *w, uint32_t id, uint32_t instance)
{
	if (w->section && !w->err)
		w->err = -EINVAL; /* sections do not nest */
	if (w->err)
		return;
	w->section = w->len;
	state_put_u32(w, id);
	state_put_u32(w, instance);
	state_put_u32(w, 0); /* length and CRC: filled in by state_end */
	state_put_u32(w, 0);
}

void state_end(struct state_writer *w)
{
	size_t start = w->section + VM_STATE_SECTION_HDR;
	uint32_t len, sum;

	if (!w->section && !w->err)
		w->err = -EINVAL;
	if (w->err)
		return;
	len = htole32((uint32_t)(w->len - start));
	sum = htole32(crc(w->buf + start, w->len - start));
	memcpy(w->buf + w->section + 8, &len, 4);
	memcpy(w->buf + w->section + 12, &sum, 4);
	w->section = 0;
}

int state_writer_finish(struct state_writer *w)
{
	if (w->section && !w->err)
		w->err = -EINVAL;
	return w->err;
}

int state_get_bytes(struct state_reader *r, void *p, size_t len)
{
	if (len > r->len - r->pos)
		return -EBADMSG;
	memcpy(p, r->p + r->pos, len);
	r->pos += len;
	return 0;
}

int state_get_u8(struct state_reader *r, uint8_t *v)
{
	return state_get_bytes(r, v, 1);
}

int state_get_u16(struct state_reader *r, uint16_t *v)
{
	int ret = state_get_bytes(r, v, 2);

	*v = le16toh(*v);
	return ret;
}

int state_get_u32(struct state_reader *r, uint32_t *v)
{
	int ret = state_get_bytes(r, v, 4);

	*v = le32toh(*v);
	return ret;
}

int state_get_u64(struct state_reader *r, uint64_t *v)
{
	int ret = state_get_bytes(r, v, 8);

	*v = le64toh(*v);
	return ret;
}

int state_get_bool(struct state_reader *r, bool *v)
{
	uint8_t b = 0;
	int ret = state_get_u8(r, &b);

	if (ret < 0)
		return ret;
	if (b > 1)
		return -EBADMSG;
	*v = b;
	return 0;
}

int state_reader_done(const struct state_reader *r)
{
	return r->pos == r->len ? 0 : -EBADMSG;
}

int state_reader_init(struct state_reader *r, const uint8_t *buf, size_t len)
{
	uint32_t version = 0;

	r->p = buf;
	r->len = len;
	r->pos = 0;
	if (!buf || len < VM_STATE_HDR_SIZE || len > VM_STATE_MAX ||
	    memcmp(buf, VM_STATE_MAGIC, 8) != 0)
		return -EBADMSG;
	r->pos = 8;
	(void)state_get_u32(r, &version);
	if (version != VM_STATE_VERSION)
		return -EPROTONOSUPPORT;
	return 0;
}

int state_next_section(struct state_reader *r, uint32_t *id, uint32_t *instance,
		       struct state_reader *sec)
{
	uint32_t len = 0, sum = 0;

	if (r->pos == r->len)
		return 0;
	if (state_get_u32(r, id) < 0 || state_get_u32(r, instance) < 0 ||
	    state_get_u32(r, &len) < 0 || state_get_u32(r, &sum) < 0)
		return -EBADMSG;
	if (len > r->len - r->pos)
		return -EBADMSG;
	if (crc(r->p + r->pos, len) != sum)
		return -EBADMSG;
	sec->p = r->p + r->pos;
	sec->len = len;
	sec->pos = 0;
	r->pos += len;
	return 1;
}
