#pragma once
/*
 * JSON helpers over jansson with errors that name the file and the field, e.g.
 *   "config.json: process.args[1]: expected a string, got integer"
 *
 * `where` is "<file>: <dotted.path.of.the.parent>" (or just "<file>" at the top level); the
 * helpers append ".key" themselves. Every getter returns 0 when the field is absent and not
 * required (leaving *ret untouched), 0 with *ret set when present and valid, and -EINVAL
 * with err set otherwise.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/cleanup.h"
#include "common/error.h"

/* A json_t reference dropped at the end of its scope: cleanup_json json_t *v = NULL; */
DEFINE_CLEANUP_FUNC(json_t, json_decref)
#define cleanup_json __attribute__((cleanup(json_decref_cleanup)))

/* Load a JSON file of at most max_size bytes; the error names the file, line and column. */
int hjson_load_file(const char *path, size_t max_size, json_t **ret, struct hull_err *err);
int hjson_load_buf(const char *buf, size_t len, const char *name, json_t **ret,
		   struct hull_err *err);

const char *hjson_type_name(const json_t *v);

int hjson_get_str(json_t *obj, const char *key, const char *where, bool required,
		  const char **ret, struct hull_err *err);
int hjson_get_bool(json_t *obj, const char *key, const char *where, bool required, bool *ret,
		   struct hull_err *err);
/* Integers checked against [min, max]. */
int hjson_get_int(json_t *obj, const char *key, const char *where, bool required, int64_t min,
		  int64_t max, int64_t *ret, struct hull_err *err);
/* Unsigned 64-bit, also accepting values above INT64_MAX written as JSON integers. */
int hjson_get_u64(json_t *obj, const char *key, const char *where, bool required,
		  uint64_t *ret, struct hull_err *err);
int hjson_get_obj(json_t *obj, const char *key, const char *where, bool required, json_t **ret,
		  struct hull_err *err);
int hjson_get_arr(json_t *obj, const char *key, const char *where, bool required, json_t **ret,
		  struct hull_err *err);
/* An array of strings, copied into a new NULL-terminated vector (free with strv_free). */
int hjson_get_strv(json_t *obj, const char *key, const char *where, bool required,
		   size_t max_items, char ***ret, struct hull_err *err);

/* Serialize compactly to a heap string (aborts on OOM). */
char *hjson_dump(const json_t *v, size_t flags);
/* A uint64 value: an integer up to INT64_MAX, else the marked string the loader makes of a
 * bigger one (see json.c); hjson_dump writes both as plain numbers. */
json_t *hjson_u64(uint64_t v);
/* Marked big integers in JSON text (json_dumps of a value holding hjson_u64 marks) back into
 * plain numbers, in place. */
void hjson_unmark_u64(char *text);
