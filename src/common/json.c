#include "common/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/strv.h"

/*
 * jansson keeps integers in json_int_t (int64) and fails the whole document on a larger
 * one ("too big integer"), but runtime-spec has uint64 fields (rlimits, memory limits,
 * seccomp argument values) that go up to 2^64-1. Such a token (digits only, above
 * INT64_MAX, at most UINT64_MAX) is rewritten, before parsing, into a string that no JSON
 * text can hold unescaped: U64_MARK then the digits. hjson_get_u64() reads it back;
 * every other getter reports it as a too big integer.
 */
#define U64_MARK "\0u64:"
#define U64_MARK_LEN 5
#define U64_MARK_JSON "\"\\u0000u64:"

static bool big_u64_token(const char *p, size_t n)
{
	if (n < 19 || n > 20 || (n == 19 && memcmp(p, "9223372036854775807", 19) <= 0) ||
	    (n == 20 && memcmp(p, "18446744073709551615", 20) > 0))
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return p[0] != '0';
}

/* A copy of buf with each big uint64 token marked, or NULL when there is none. */
static char *mark_big_u64(const char *buf, size_t len, size_t *ret_len)
{
	char *out = NULL;
	size_t o = 0, cap = 0, from = 0;

	for (size_t i = 0; i < len; i++) {
		size_t j = i;

		if (buf[i] == '"') {
			for (i++; i < len && buf[i] != '"'; i++)
				if (buf[i] == '\\')
					i++;
			continue;
		}
		if (buf[i] != '-' && (buf[i] < '0' || buf[i] > '9'))
			continue;
		while (j < len && strchr("0123456789-+.eE", buf[j]) && buf[j])
			j++;
		if (big_u64_token(buf + i, j - i)) {
			size_t need = o + (i - from) + strlen(U64_MARK_JSON) + (j - i) + 2;

			if (need > cap) {
				cap = need + len;
				out = xrealloc(out, cap);
			}
			memcpy(out + o, buf + from, i - from);
			o += i - from;
			memcpy(out + o, U64_MARK_JSON, strlen(U64_MARK_JSON));
			o += strlen(U64_MARK_JSON);
			memcpy(out + o, buf + i, j - i);
			o += j - i;
			out[o++] = '"';
			from = j;
		}
		i = j - 1;
	}
	if (!out)
		return NULL;
	out = xrealloc(out, o + (len - from) + 1);
	memcpy(out + o, buf + from, len - from);
	*ret_len = o + (len - from);
	return out;
}

int hjson_load_buf(const char *buf, size_t len, const char *name, json_t **ret,
		   struct hull_err *err)
{
	json_error_t jerr;
	size_t mlen = 0;
	cleanup_free char *marked = mark_big_u64(buf, len, &mlen);
	json_t *v = marked ? json_loadb(marked, mlen, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
					&jerr)
			   : json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);

	if (!v)
		return hull_err_setx(err, EINVAL, "%s: line %d column %d: %s", name, jerr.line,
				     jerr.column, jerr.text);
	*ret = v;
	return 0;
}

/* The value of a marked big integer (mark_big_u64()), or false when v is not one. */
static bool big_u64_value(const json_t *v, uint64_t *ret)
{
	const char *s;
	char *end;

	if (!json_is_string(v) || json_string_length(v) <= U64_MARK_LEN)
		return false;
	s = json_string_value(v);
	if (memcmp(s, U64_MARK, U64_MARK_LEN) != 0)
		return false;
	errno = 0;
	*ret = strtoull(s + U64_MARK_LEN, &end, 10);
	return errno == 0 && *end == '\0';
}

int hjson_load_file(const char *path, size_t max_size, json_t **ret, struct hull_err *err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;
	int r;

	r = fd_read_file_at(AT_FDCWD, path, max_size, &buf, &len);
	if (r == -EFBIG)
		return hull_err_setx(err, EFBIG, "%s: larger than %zu bytes", path, max_size);
	if (r < 0)
		return hull_err_set(err, -r, "%s", path);
	return hjson_load_buf(buf, len, path, ret, err);
}

const char *hjson_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

/* Fetch obj[key]; 1 if present (and not null), 0 if absent and optional, -EINVAL otherwise. */
static int get_field(json_t *obj, const char *key, const char *where, bool required,
		     json_t **ret, struct hull_err *err)
{
	json_t *v = obj ? json_object_get(obj, key) : NULL;

	if (!v || json_is_null(v)) {
		if (required)
			return hull_err_setx(err, EINVAL, "%s%s%s: required field is missing",
					     where, strchr(where, ':') ? "." : ": ", key);
		return 0;
	}
	*ret = v;
	return 1;
}

static int type_error(const char *where, const char *key, const char *want, const json_t *v,
		      struct hull_err *err)
{
	uint64_t big;

	if (big_u64_value(v, &big))
		return hull_err_setx(err, ERANGE, "%s%s%s: %llu is too big (expected %s)", where,
				     strchr(where, ':') ? "." : ": ", key, (unsigned long long)big,
				     want);
	return hull_err_setx(err, EINVAL, "%s%s%s: expected %s, got %s", where,
			     strchr(where, ':') ? "." : ": ", key, want, hjson_type_name(v));
}

int hjson_get_str(json_t *obj, const char *key, const char *where, bool required,
		  const char **ret, struct hull_err *err)
{
	json_t *v = NULL;
	int r = get_field(obj, key, where, required, &v, err);

	if (r <= 0)
		return r;
	if (!json_is_string(v))
		return type_error(where, key, "a string", v, err);
	*ret = json_string_value(v);
	return 0;
}

int hjson_get_bool(json_t *obj, const char *key, const char *where, bool required, bool *ret,
		   struct hull_err *err)
{
	json_t *v = NULL;
	int r = get_field(obj, key, where, required, &v, err);

	if (r <= 0)
		return r;
	if (!json_is_boolean(v))
		return type_error(where, key, "a boolean", v, err);
	*ret = json_is_true(v);
	return 0;
}

int hjson_get_int(json_t *obj, const char *key, const char *where, bool required, int64_t min,
		  int64_t max, int64_t *ret, struct hull_err *err)
{
	json_t *v = NULL;
	int r = get_field(obj, key, where, required, &v, err);
	json_int_t i;

	if (r <= 0)
		return r;
	if (!json_is_integer(v))
		return type_error(where, key, "an integer", v, err);
	i = json_integer_value(v);
	if (i < min || i > max)
		return hull_err_setx(err, ERANGE, "%s%s%s: %lld is out of range [%lld, %lld]", where,
				     strchr(where, ':') ? "." : ": ", key, (long long)i,
				     (long long)min, (long long)max);
	*ret = i;
	return 0;
}

int hjson_get_u64(json_t *obj, const char *key, const char *where, bool required,
		  uint64_t *ret, struct hull_err *err)
{
	json_t *v = NULL;
	int r = get_field(obj, key, where, required, &v, err);

	if (r <= 0)
		return r;
	/* jansson parses integers into json_int_t (long long); a value above INT64_MAX
	 * arrives marked (hjson_load_buf()), and a negative one is out of range here. */
	if (big_u64_value(v, ret))
		return 0;
	if (!json_is_integer(v))
		return type_error(where, key, "an unsigned integer", v, err);
	if (json_integer_value(v) < 0)
		return hull_err_setx(err, ERANGE, "%s%s%s: %lld must not be negative", where,
				     strchr(where, ':') ? "." : ": ", key,
				     (long long)json_integer_value(v));
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

int hjson_get_obj(json_t *obj, const char *key, const char *where, bool required, json_t **ret,
		  struct hull_err *err)
{
	json_t *v = NULL;
	int r = get_field(obj, key, where, required, &v, err);

	if (r <= 0)
		return r;
	if (!json_is_object(v))
		return type_error(where, key, "an object", v, err);
	*ret = v;
	return 0;
}

int hjson_get_arr(json_t *obj, const char *key, const char *where, bool required, json_t **ret,
		  struct hull_err *err)
{
	json_t *v = NULL;
	int r = get_field(obj, key, where, required, &v, err);

	if (r <= 0)
		return r;
	if (!json_is_array(v))
		return type_error(where, key, "an array", v, err);
	*ret = v;
	return 0;
}

int hjson_get_strv(json_t *obj, const char *key, const char *where, bool required,
		   size_t max_items, char ***ret, struct hull_err *err)
{
	cleanup_strv char **out = NULL;
	json_t *arr = NULL, *item;
	size_t i;
	int r;

	r = hjson_get_arr(obj, key, where, required, &arr, err);
	if (r < 0 || !arr)
		return r;
	if (json_array_size(arr) > max_items)
		return hull_err_setx(err, E2BIG, "%s%s%s: more than %zu items", where,
				     strchr(where, ':') ? "." : ": ", key, max_items);
	out = xcalloc(1, sizeof(char *));
	json_array_foreach(arr, i, item) {
		if (!json_is_string(item))
			return hull_err_setx(err, EINVAL, "%s%s%s[%zu]: expected a string, got %s",
					     where, strchr(where, ':') ? "." : ": ", key, i,
					     hjson_type_name(item));
		strv_push(&out, json_string_value(item));
	}
	strv_free(*ret);
	*ret = steal_ptr(&out);
	return 0;
}

json_t *hjson_u64(uint64_t v)
{
	char buf[U64_MARK_LEN + 24];
	int n;

	if (v <= INT64_MAX)
		return json_integer((json_int_t)v);
	memcpy(buf, U64_MARK, U64_MARK_LEN);
	n = snprintf(buf + U64_MARK_LEN, sizeof(buf) - U64_MARK_LEN, "%llu",
		     (unsigned long long)v);
	return json_stringn(buf, U64_MARK_LEN + (size_t)n);
}

void hjson_unmark_u64(char *text)
{
	const size_t mark = strlen(U64_MARK_JSON);
	char *p = text;

	while ((p = strstr(p, U64_MARK_JSON))) {
		char *end = strchr(p + mark, '"');
		size_t digits;

		if (!end)
			return;
		digits = (size_t)(end - p) - mark;
		memmove(p, p + mark, digits);
		memmove(p + digits, end + 1, strlen(end + 1) + 1);
		p += digits;
	}
}

/* Big uint64 values (hjson_u64, or read by the loader) are written as plain numbers. */
char *hjson_dump(const json_t *v, size_t flags)
{
	char *s = json_dumps(v, flags | JSON_COMPACT);

	if (!s)
		abort();
	hjson_unmark_u64(s);
	return s;
}
