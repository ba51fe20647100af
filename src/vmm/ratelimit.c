/* Token buckets (ratelimit.h). Integer arithmetic only: the refills never round up. */
#include "vmm/ratelimit.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>

#include "common/error.h"
#include "common/json.h"

#define NS_PER_MS 1000000ULL

static uint64_t bucket_refill_ns(const struct token_bucket *b)
{
	return (b->c.refill_ms ? b->c.refill_ms : 1000) * NS_PER_MS;
}

static int bucket_check(const struct token_bucket_config *c)
{
	if (c->size > RATELIMIT_MAX_SIZE || c->one_time_burst > RATELIMIT_MAX_SIZE ||
	    c->refill_ms > RATELIMIT_MAX_REFILL_MS)
		return -EINVAL;
	return 0;
}

int ratelimit_config_check(const struct ratelimit_config *c)
{
	return bucket_check(&c->bytes) < 0 ? -EINVAL : bucket_check(&c->ops);
}

static void bucket_init(struct token_bucket *b, const struct token_bucket_config *c,
			uint64_t now_ns)
{
	b->c = *c;
	b->budget = (int64_t)c->size;
	b->burst = c->one_time_burst;
	b->last_ns = now_ns;
}

void ratelimit_init(struct ratelimit *rl, const struct ratelimit_config *c, uint64_t now_ns)
{
	bucket_init(&rl->bytes, &c->bytes, now_ns);
	bucket_init(&rl->ops, &c->ops, now_ns);
}

bool ratelimit_active(const struct ratelimit *rl)
{
	return rl->bytes.c.size || rl->ops.c.size;
}

/*
 * Add the tokens earned since last_ns, at size per refill period. last_ns moves by the time
 * those whole tokens took, rounded up: the fraction of a token left is never paid twice.
 */
static void bucket_refill(struct token_bucket *b, uint64_t now_ns)
{
	uint64_t period = bucket_refill_ns(b), elapsed, tokens, used;

	if (now_ns <= b->last_ns)
		return;
	elapsed = now_ns - b->last_ns;
	if (b->budget >= (int64_t)b->c.size) {
		b->last_ns = now_ns; /* full: no credit for the time it sat full */
		return;
	}
	/* at most what brings the budget to size: elapsed * size cannot overflow 128 bits */
	tokens = (uint64_t)((unsigned __int128)elapsed * b->c.size / period);
	if (tokens == 0)
		return;
	if (tokens >= (uint64_t)((int64_t)b->c.size - b->budget)) {
		b->budget = (int64_t)b->c.size;
		b->last_ns = now_ns;
		return;
	}
	b->budget += (int64_t)tokens;
	used = (uint64_t)(((unsigned __int128)tokens * period + b->c.size - 1) / b->c.size);
	b->last_ns = used < elapsed ? b->last_ns + used : now_ns;
}

/* Can n tokens go now? A request above size needs a full bucket (and makes a debt). */
static bool bucket_can(struct token_bucket *b, uint64_t n, uint64_t now_ns)
{
	uint64_t need;

	if (!b->c.size || n <= b->burst)
		return true;
	bucket_refill(b, now_ns);
	need = n - b->burst;
	if (need > b->c.size)
		need = b->c.size;
	return b->budget >= (int64_t)need;
}

static void bucket_take(struct token_bucket *b, uint64_t n)
{
	uint64_t from_burst = n < b->burst ? n : b->burst;

	if (!b->c.size)
		return;
	b->burst -= from_burst;
	n -= from_burst;
	/* n <= RATELIMIT_MAX_SIZE-ish: a guest's request is at most a few MiB */
	b->budget -= (int64_t)(n > RATELIMIT_MAX_SIZE ? RATELIMIT_MAX_SIZE : n);
}

bool ratelimit_consume(struct ratelimit *rl, uint64_t bytes, uint64_t ops, uint64_t now_ns)
{
	if (!bucket_can(&rl->bytes, bytes, now_ns) || !bucket_can(&rl->ops, ops, now_ns))
		return false;
	bucket_take(&rl->bytes, bytes);
	bucket_take(&rl->ops, ops);
	return true;
}

/* Time until the bucket holds what n needs (0: now). */
static uint64_t bucket_wait_ns(struct token_bucket *b, uint64_t n, uint64_t now_ns)
{
	uint64_t need, missing, period = bucket_refill_ns(b), since;

	if (bucket_can(b, n, now_ns))
		return 0;
	need = n - b->burst;
	if (need > b->c.size)
		need = b->c.size;
	missing = (uint64_t)((int64_t)need - b->budget);
	/* the time for missing tokens, less what has run since the last refill */
	since = now_ns > b->last_ns ? now_ns - b->last_ns : 0;
	need = (uint64_t)(((unsigned __int128)missing * period + b->c.size - 1) / b->c.size);
	return need > since ? need - since : 1;
}

uint64_t ratelimit_wait_ns(struct ratelimit *rl, uint64_t bytes, uint64_t ops, uint64_t now_ns)
{
	uint64_t a = bucket_wait_ns(&rl->bytes, bytes, now_ns);
	uint64_t b = bucket_wait_ns(&rl->ops, ops, now_ns);

	return a > b ? a : b;
}

static int bucket_from_json(json_t *rl, const char *key, const char *where,
			    struct token_bucket_config *c, struct hull_err *err)
{
	char at[128];
	json_t *b = NULL;
	int r;

	(void)snprintf(at, sizeof(at), "%s.%s", where, key);
	r = hjson_get_obj(rl, key, where, false, &b, err);
	if (r < 0 || !b)
		return r;
	r = hjson_get_u64(b, "size", at, true, &c->size, err);
	if (r == 0)
		r = hjson_get_u64(b, "one_time_burst", at, false, &c->one_time_burst, err);
	if (r == 0)
		r = hjson_get_u64(b, "refill_time", at, true, &c->refill_ms, err);
	if (r < 0)
		return r;
	if (bucket_check(c) < 0 || c->refill_ms == 0)
		return hull_err_setx(err, EINVAL,
				     "%s: size and one_time_burst at most 2^62, refill_time 1 to %llu ms",
				     at, (unsigned long long)RATELIMIT_MAX_REFILL_MS);
	return 0;
}

int ratelimit_config_from_json(json_t *obj, const char *key, const char *where,
			       struct ratelimit_config *c, struct hull_err *err)
{
	char at[96];
	json_t *rl = NULL;
	int r;

	*c = (struct ratelimit_config){ 0 };
	if (json_is_null(json_object_get(obj, key)))
		return 0;
	r = hjson_get_obj(obj, key, where, false, &rl, err);
	if (r < 0 || !rl)
		return r;
	(void)snprintf(at, sizeof(at), "%s.%s", where, key);
	r = bucket_from_json(rl, "bandwidth", at, &c->bytes, err);
	return r < 0 ? r : bucket_from_json(rl, "ops", at, &c->ops, err);
}
