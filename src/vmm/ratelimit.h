#pragma once
/*
 * Token-bucket rate limiters for devices (docs/vmm.md, "Rate limits"), in the shape of
 * Firecracker's rate_limiter: a bandwidth bucket (bytes) and an operations bucket, each with
 * a size (tokens it holds and gets back per refill period), a refill period and a one-time
 * burst spent before the bucket. Generic: virtio-blk uses one per disk, virtio-net one per
 * direction. Data plane: no allocation, no locking (the device's lock covers it), no clock
 * reads (the caller passes now, CLOCK_MONOTONIC ns), so tests drive it with made-up times.
 */
#include <stdbool.h>
#include <stdint.h>

/* Refill periods are at most this long (a day); sizes at most 2^62 tokens. */
#define RATELIMIT_MAX_REFILL_MS (24ULL * 3600 * 1000)
#define RATELIMIT_MAX_SIZE (1ULL << 62)

struct token_bucket_config {
	uint64_t size;           /* 0: this bucket does not limit */
	uint64_t one_time_burst; /* extra tokens at the start, never refilled */
	uint64_t refill_ms;      /* the bucket refills size tokens per refill_ms (0: 1000) */
};

struct ratelimit_config {
	struct token_bucket_config bytes, ops;
};

struct token_bucket {
	struct token_bucket_config c;
	int64_t budget;  /* tokens now; negative after a request larger than size (a debt) */
	uint64_t burst;  /* what is left of the one-time burst */
	uint64_t last_ns;
};

struct ratelimit {
	struct token_bucket bytes, ops;
};

/* Values in range? 0, or -EINVAL (size or burst above RATELIMIT_MAX_SIZE, refill too long). */
int ratelimit_config_check(const struct ratelimit_config *c);
/* Full buckets at now_ns (c checked by ratelimit_config_check). */
void ratelimit_init(struct ratelimit *rl, const struct ratelimit_config *c, uint64_t now_ns);
/* Does the limiter limit anything (a bucket with a size)? */
bool ratelimit_active(const struct ratelimit *rl);
/*
 * Take bytes and ops tokens for one request, all or nothing: true when it may go now. A
 * request larger than a bucket's size goes when the bucket is full, leaving a debt that the
 * refills pay back first, so that the long-run rate stays at size per refill period.
 */
bool ratelimit_consume(struct ratelimit *rl, uint64_t bytes, uint64_t ops, uint64_t now_ns);
/* Nanoseconds until ratelimit_consume of this request can succeed (>= 1 when it cannot now). */
uint64_t ratelimit_wait_ns(struct ratelimit *rl, uint64_t bytes, uint64_t ops, uint64_t now_ns);

struct json_t;
struct hull_err;
/*
 * A rate limiter as Firecracker's API writes it, the value of obj's key (absent or null: no
 * limit): {"bandwidth": {"size": N, "one_time_burst": N, "refill_time": MS}, "ops": {...}},
 * each bucket optional. 0, or -EINVAL with err naming where.key and the field.
 */
int ratelimit_config_from_json(struct json_t *obj, const char *key, const char *where,
			       struct ratelimit_config *c, struct hull_err *err);
