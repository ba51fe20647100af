#pragma once
/*
 * The byte stream a VM's device state is saved to (snapshot, restore, migration): a header
 * (magic, format version) and one section per device instance (id, instance, length, CRC32 of
 * the payload, payload). Integers are little-endian. The reader is for untrusted bytes: it
 * never allocates, refuses truncation, unknown versions, lengths past the end and bad CRCs,
 * and each device's load checks the values it reads against its own limits.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VM_STATE_MAGIC "HULLVMST"
#define VM_STATE_VERSION 1U
#define VM_STATE_HDR_SIZE 12U     /* magic (8) + version (4) */
#define VM_STATE_SECTION_HDR 16U  /* id, instance, length, crc32 */
#define VM_STATE_MAX (16U << 20)  /* a stream larger than this is refused */

struct state_writer {
	uint8_t *buf;
	size_t len, cap;
	size_t section; /* offset of the open section's header, 0 when none */
	int err;        /* the first error (-ENOMEM, -EFBIG, -EINVAL); sticky */
};

/* Start a stream (writes the header). Check w->err (or state_writer_finish) at the end. */
void state_writer_init(struct state_writer *w);
void state_writer_release(struct state_writer *w);
void state_begin(struct state_writer *w, uint32_t id, uint32_t instance);
void state_end(struct state_writer *w); /* fills in the section's length and CRC */
void state_put_u8(struct state_writer *w, uint8_t v);
void state_put_u16(struct state_writer *w, uint16_t v);
void state_put_u32(struct state_writer *w, uint32_t v);
void state_put_u64(struct state_writer *w, uint64_t v);
void state_put_bytes(struct state_writer *w, const void *p, size_t len);
/* 0 with the stream in w->buf/w->len, or the first error. */
int state_writer_finish(struct state_writer *w);

struct state_reader {
	const uint8_t *p;
	size_t len, pos;
};

/* Check the header: 0, -EBADMSG (not a state stream, too large), -EPROTONOSUPPORT (version). */
int state_reader_init(struct state_reader *r, const uint8_t *buf, size_t len);
/*
 * The next section: 1 with *id, *instance and *sec (a reader over its payload) set, 0 at the
 * end of the stream, -EBADMSG when a section header is truncated, its length runs past the
 * end, or its CRC does not match.
 */
int state_next_section(struct state_reader *r, uint32_t *id, uint32_t *instance,
		       struct state_reader *sec);
/* Each returns 0 or -EBADMSG when fewer bytes are left than asked for. */
int state_get_u8(struct state_reader *r, uint8_t *v);
int state_get_u16(struct state_reader *r, uint16_t *v);
int state_get_u32(struct state_reader *r, uint32_t *v);
int state_get_u64(struct state_reader *r, uint64_t *v);
int state_get_bool(struct state_reader *r, bool *v); /* -EBADMSG unless 0 or 1 */
int state_get_bytes(struct state_reader *r, void *p, size_t len);
/* 0 when the section was read to its end, -EBADMSG when bytes are left over. */
int state_reader_done(const struct state_reader *r);
