#include "common/json.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/strv.h"

int hjson_load_buf(const char *buf, size_t len, const char *name, json_t **ret,
		   struct hull_err *err)
{
	json_error_t jerr;
	json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);

	if (!v)
		return hull_err_setx(err, EINVAL, "%s: line %d column %d: %s", name, jerr.line,
				     jerr.column, jerr.text);
	*ret = v;
	return 0;
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
	/* jansson parses integers into json_int_t (long long); a value above INT64_MAX is
	 * a parse error there already, and a negative one is out of range here. */
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

char *hjson_dump(const json_t *v, size_t flags)
{
	char *s = json_dumps(v, flags | JSON_COMPACT);

	if (!s)
		abort();
	return s;
}
