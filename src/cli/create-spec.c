/* `hull run/create` flags that set one config.json field each (create-spec.h). */
#include "cli/create-spec.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/alloc.h"
#include "common/size.h"
#include "spec/spec.h"

struct spec_flag {
	const char *name, *key;
	enum cli_spec_kind kind;
	int64_t min, max, unset;
	enum spec_field_type type;
	size_t off, has_off;
};

#define SPEC_ROW(id, fname, fkey, arg, fkind, fmin, fmax, funset, ftype, field, has, help)        \
	[CLI_SPEC_##id - CLI_SPEC_FIRST - 1] = {                                             \
		.name = fname, .key = fkey, .kind = fkind, .min = fmin, .max = fmax, .unset = funset,     \
		.type = SPEC_FIELD_##ftype, .off = offsetof(struct oci_spec, field),         \
		.has_off = SPEC_FIELD_##ftype == SPEC_FIELD_STR                              \
				   ? SPEC_FIELD_NO_FLAG                                      \
				   : offsetof(struct oci_spec, has) },
static const struct spec_flag flags[] = { CLI_SPEC_FLAGS(SPEC_ROW) };
#undef SPEC_ROW

static int parse_num(const char *arg, int64_t *ret)
{
	long long v;
	char *end;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (end == arg || *end || errno)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* The value of flag f in the text the user typed, or one line naming it. */
static int parse_value(const char *cmd, const struct spec_flag *f, const char *arg,
		       struct spec_field_set *set)
{
	switch (f->kind) {
	case CLI_SPEC_BOOL:
		set->num = cli_opt_on;
		return 0;
	case CLI_SPEC_CPUS:
		if (!spec_cpu_list_is_valid(arg))
			return cli_usage_error(cmd, "--%s %s: invalid list (e.g. 0-3,5)", f->name,
					       arg);
		set->str = arg;
		return 0;
	case CLI_SPEC_SIZE:
		if (size_parse(arg, SIZE_DOCKER, &set->num) < 0 || set->num < f->min ||
		    set->num > f->max)
			return cli_usage_error(cmd, "--%s %s: invalid size (a number with an "
					       "optional unit b, k, m or g)", f->name, arg);
		return 0;
	case CLI_SPEC_NUM:
		if (parse_num(arg, &set->num) < 0 ||
		    (set->num != f->unset && (set->num < f->min || set->num > f->max)))
			return cli_usage_error(cmd, "--%s %s: must be a number from %lld to %lld",
					       f->name, arg, (long long)f->min,
					       (long long)f->max);
		return 0;
	}
	return 0;
}

int cli_spec_opt(const char *cmd, int opt, const char *arg, struct run_opts *o)
{
	const struct spec_flag *f = &flags[opt - CLI_SPEC_FIRST - 1];
	struct spec_field_set set = { .name = f->key, .type = f->type, .off = f->off, .has_off = f->has_off };
	int r;

	if ((r = parse_value(cmd, f, arg, &set)) != 0)
		return r;
	/* the same flag twice: the last one wins, as with getopt's other flags */
	for (size_t i = 0; i < o->n_spec_sets; i++)
		if (o->spec_sets[i].off == f->off) {
			o->spec_sets[i] = o->spec_sets[--o->n_spec_sets];
			break;
		}
	if (f->kind != CLI_SPEC_BOOL && set.num == f->unset)
		return 0;
	o->spec_sets = xreallocarray(o->spec_sets, o->n_spec_sets + 1, sizeof(set));
	o->spec_sets[o->n_spec_sets++] = set;
	return 0;
}

/* The value the user gave to the flag that sets field off, or NULL. */
static const struct spec_field_set *given(const struct run_opts *o, size_t off)
{
	for (size_t i = 0; i < o->n_spec_sets; i++)
		if (o->spec_sets[i].off == off)
			return &o->spec_sets[i];
	return NULL;
}

int cli_spec_check(const char *cmd, const struct run_opts *o)
{
	const struct spec_field_set *period =
		given(o, offsetof(struct oci_spec, resources.cpu_period));
	const struct spec_field_set *quota =
		given(o, offsetof(struct oci_spec, resources.cpu_quota));
	const struct spec_field_set *resv =
		given(o, offsetof(struct oci_spec, resources.mem_reservation));

	if (o->cpus > 0 && (period || quota))
		return cli_usage_error(cmd, "--cpus: conflicts with --%s (both set the CFS quota)",
				       period ? "cpu-period" : "cpu-quota");
	if (quota && quota->num > 0 && quota->num < 1000)
		return cli_usage_error(cmd, "--cpu-quota %lld: must be at least 1000 microseconds "
				       "(or -1 for none)", (long long)quota->num);
	if (resv && o->memory > 0 && resv->num > o->memory)
		return cli_usage_error(cmd, "--memory-reservation: must not be above the memory "
				       "limit (-m)");
	return 0;
}

void cli_spec_free(struct run_opts *o)
{
	free(o->spec_sets);
	o->spec_sets = NULL;
	o->n_spec_sets = 0;
}
