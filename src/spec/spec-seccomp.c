/*
 * linux.seccomp (runtime-spec config-linux.md "Seccomp"): parse and validate into struct
 * oci_seccomp. Whether libseccomp knows a syscall or an architecture on this host is the
 * seccomp code's question (src/container/seccomp.c), where the filter is built.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/strv.h"
#include "spec/spec-internal.h"
#include "spec/spec.h"

static const struct {
	const char *name;
	bool takes_ret;
} actions[OCI_SCMP_ACTION_COUNT] = {
	[OCI_SCMP_KILL] = { "SCMP_ACT_KILL", false },
	[OCI_SCMP_KILL_THREAD] = { "SCMP_ACT_KILL_THREAD", false },
	[OCI_SCMP_KILL_PROCESS] = { "SCMP_ACT_KILL_PROCESS", false },
	[OCI_SCMP_TRAP] = { "SCMP_ACT_TRAP", false },
	[OCI_SCMP_ERRNO] = { "SCMP_ACT_ERRNO", true },
	[OCI_SCMP_TRACE] = { "SCMP_ACT_TRACE", true },
	[OCI_SCMP_ALLOW] = { "SCMP_ACT_ALLOW", false },
	[OCI_SCMP_LOG] = { "SCMP_ACT_LOG", false },
	[OCI_SCMP_NOTIFY] = { "SCMP_ACT_NOTIFY", false },
};

static const char *const op_names[OCI_SCMP_CMP_COUNT] = {
	[OCI_SCMP_CMP_NE] = "SCMP_CMP_NE", [OCI_SCMP_CMP_LT] = "SCMP_CMP_LT",
	[OCI_SCMP_CMP_LE] = "SCMP_CMP_LE", [OCI_SCMP_CMP_EQ] = "SCMP_CMP_EQ",
	[OCI_SCMP_CMP_GE] = "SCMP_CMP_GE", [OCI_SCMP_CMP_GT] = "SCMP_CMP_GT",
	[OCI_SCMP_CMP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
};

static const struct {
	const char *name;
	unsigned int flag;
} flag_names[] = {
	{ "SECCOMP_FILTER_FLAG_TSYNC", OCI_SCMP_FLAG_TSYNC },
	{ "SECCOMP_FILTER_FLAG_LOG", OCI_SCMP_FLAG_LOG },
	{ "SECCOMP_FILTER_FLAG_SPEC_ALLOW", OCI_SCMP_FLAG_SPEC_ALLOW },
	{ "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", OCI_SCMP_FLAG_WAIT_KILLABLE_RECV },
};

/* The architectures runtime-spec names (and libseccomp's sh/sheb), without "SCMP_ARCH_". */
static const char *const arch_names[] = {
	"X86",	   "X86_64",	  "X32",     "ARM",	"AARCH64", "MIPS",	"MIPS64",
	"MIPS64N32", "MIPSEL",	  "MIPSEL64", "MIPSEL64N32", "PPC",  "PPC64", "PPC64LE",
	"S390",	   "S390X",	  "PARISC",  "PARISC64", "RISCV64", "LOONGARCH64", "M68K",
	"SH",	   "SHEB",
};

const char *spec_seccomp_action_name(enum oci_seccomp_action a)
{
	return a < OCI_SCMP_ACTION_COUNT ? actions[a].name : "?";
}

bool spec_seccomp_action_takes_ret(enum oci_seccomp_action a)
{
	return a < OCI_SCMP_ACTION_COUNT && actions[a].takes_ret;
}

const char *spec_seccomp_op_name(enum oci_seccomp_op op)
{
	return op > 0 && op < OCI_SCMP_CMP_COUNT ? op_names[op] : "?";
}

/* obj.<key> (an action name) and obj.<ret_key> (errnoRet, only for ERRNO and TRACE). */
static int parse_action(json_t *obj, const char *key, const char *ret_key, const char *w,
			enum oci_seccomp_action *ret, bool *has_ret, uint32_t *ret_val,
			struct hull_err *err)
{
	const char *name = NULL;
	int64_t v = -1;
	int r;

	if ((r = hjson_get_str(obj, key, w, true, &name, err)) < 0 ||
	    (r = hjson_get_int(obj, ret_key, w, false, 0, 0xffff, &v, err)) < 0)
		return r;
	for (int i = 0; i < OCI_SCMP_ACTION_COUNT; i++) {
		if (strcmp(name, actions[i].name) != 0)
			continue;
		if (v >= 0 && !actions[i].takes_ret)
			return hull_err_setx(err, EINVAL, "%s.%s: %s takes no %s", w, ret_key,
					     name, ret_key);
		*ret = (enum oci_seccomp_action)i;
		*has_ret = v >= 0;
		*ret_val = v >= 0 ? (uint32_t)v : 0;
		return 0;
	}
	return hull_err_setx(err, EINVAL, "%s.%s: unknown action \"%s\"", w, key, name);
}

static int parse_arches(json_t *sec, const char *w, struct oci_seccomp *s, struct hull_err *err)
{
	int r;

	if ((r = hjson_get_strv(sec, "architectures", w, false, OCI_MAX_SECCOMP_ARCHES,
				&s->architectures, err)) < 0)
		return r;
	for (size_t i = 0; s->architectures && s->architectures[i]; i++) {
		const char *a = s->architectures[i];
		size_t k;

		if (strncmp(a, "SCMP_ARCH_", 10) == 0)
			a += 10;
		for (k = 0; k < ARRAY_SIZE(arch_names); k++)
			if (strcasecmp(a, arch_names[k]) == 0)
				break;
		if (k == ARRAY_SIZE(arch_names))
			return hull_err_setx(err, EINVAL, "%s.architectures[%zu]: unknown "
					     "architecture \"%s\"", w, i, s->architectures[i]);
	}
	return 0;
}

static int parse_flags(json_t *sec, const char *w, struct oci_seccomp *s, struct hull_err *err)
{
	int r;

	if ((r = hjson_get_strv(sec, "flags", w, false, 64, &s->flag_names, err)) < 0)
		return r;
	for (size_t i = 0; s->flag_names && s->flag_names[i]; i++) {
		size_t k;

		for (k = 0; k < ARRAY_SIZE(flag_names); k++)
			if (strcmp(s->flag_names[i], flag_names[k].name) == 0)
				break;
		if (k == ARRAY_SIZE(flag_names))
			return hull_err_setx(err, EINVAL, "%s.flags[%zu]: unknown flag \"%s\"", w,
					     i, s->flag_names[i]);
		s->flags |= flag_names[k].flag;
	}
	return 0;
}

static int parse_args(json_t *sc, const char *w, struct oci_seccomp_rule *rule,
		      struct hull_err *err)
{
	json_t *args = NULL, *a;
	size_t i;
	int r;

	if ((r = hjson_get_arr(sc, "args", w, false, &args, err)) < 0 || !args)
		return r;
	if (json_array_size(args) > 6)
		return hull_err_setx(err, E2BIG, "%s.args: more than 6 conditions", w);
	json_array_foreach(args, i, a) {
		struct oci_seccomp_arg *x = &rule->args[i];
		const char *op = NULL;
		int64_t index = 0;
		char aw[256];
		int k;

		(void)snprintf(aw, sizeof(aw), "%s.args[%zu]", w, i);
		if (!json_is_object(a))
			return hull_err_setx(err, EINVAL, "%s: expected an object, got %s", aw,
					     hjson_type_name(a));
		if ((r = hjson_get_int(a, "index", aw, true, 0, 5, &index, err)) < 0 ||
		    (r = hjson_get_u64(a, "value", aw, true, &x->value, err)) < 0 ||
		    (r = hjson_get_u64(a, "valueTwo", aw, false, &x->value_two, err)) < 0 ||
		    (r = hjson_get_str(a, "op", aw, true, &op, err)) < 0)
			return r;
		for (k = 1; k < OCI_SCMP_CMP_COUNT; k++)
			if (strcmp(op, op_names[k]) == 0)
				break;
		if (k == OCI_SCMP_CMP_COUNT)
			return hull_err_setx(err, EINVAL, "%s.op: unknown operator \"%s\"", aw, op);
		x->index = (uint32_t)index;
		x->op = (enum oci_seccomp_op)k;
		rule->n_args = i + 1;
	}
	return 0;
}

static int parse_rule(json_t *sc, const char *w, struct oci_seccomp_rule *rule,
		      struct hull_err *err)
{
	int r;

	if (!json_is_object(sc))
		return hull_err_setx(err, EINVAL, "%s: expected an object, got %s", w,
				     hjson_type_name(sc));
	if ((r = hjson_get_strv(sc, "names", w, true, OCI_MAX_SECCOMP_NAMES, &rule->names,
				err)) < 0 ||
	    (r = parse_action(sc, "action", "errnoRet", w, &rule->action, &rule->has_errno_ret,
			      &rule->errno_ret, err)) < 0)
		return r;
	return parse_args(sc, w, rule, err);
}

static bool uses_notify(const struct oci_seccomp *s)
{
	if (s->default_action == OCI_SCMP_NOTIFY)
		return true;
	for (size_t i = 0; i < s->n_syscalls; i++)
		if (s->syscalls[i].action == OCI_SCMP_NOTIFY)
			return true;
	return false;
}

static int parse_seccomp(json_t *sec, const char *w, struct oci_seccomp *s, struct hull_err *err)
{
	const char *str = NULL;
	json_t *calls = NULL, *sc;
	size_t i;
	int r;

	if (!json_is_object(sec))
		return hull_err_setx(err, EINVAL, "%s: expected an object, got %s", w,
				     hjson_type_name(sec));
	if ((r = parse_action(sec, "defaultAction", "defaultErrnoRet", w, &s->default_action,
			      &s->has_default_errno_ret, &s->default_errno_ret, err)) < 0 ||
	    (r = parse_arches(sec, w, s, err)) < 0 || (r = parse_flags(sec, w, s, err)) < 0 ||
	    (r = hjson_get_str(sec, "listenerPath", w, false, &str, err)) < 0)
		return r;
	s->listener_path = str && *str ? xstrdup(str) : NULL;
	str = NULL;
	if ((r = hjson_get_str(sec, "listenerMetadata", w, false, &str, err)) < 0)
		return r;
	s->listener_metadata = str ? xstrdup(str) : NULL;
	if ((r = hjson_get_arr(sec, "syscalls", w, false, &calls, err)) < 0)
		return r;
	if (calls && json_array_size(calls) > OCI_MAX_SECCOMP_SYSCALLS)
		return hull_err_setx(err, E2BIG, "%s.syscalls: more than %d entries", w,
				     OCI_MAX_SECCOMP_SYSCALLS);
	s->syscalls = xcalloc(json_array_size(calls) + 1, sizeof(*s->syscalls));
	json_array_foreach(calls, i, sc) {
		char sw[128];

		(void)snprintf(sw, sizeof(sw), "%s.syscalls[%zu]", w, i);
		s->n_syscalls = i + 1;
		if ((r = parse_rule(sc, sw, &s->syscalls[i], err)) < 0)
			return r;
	}
	if (uses_notify(s) && !s->listener_path)
		return hull_err_setx(err, EINVAL, "%s.listenerPath: SCMP_ACT_NOTIFY needs a "
				     "listener", w);
	return 0;
}

int spec_seccomp_parse(json_t *sec, const char *where, struct oci_seccomp **ret,
		      struct hull_err *err)
{
	struct oci_seccomp *s = xcalloc(1, sizeof(*s));
	int r;

	if ((r = parse_seccomp(sec, where, s, err)) < 0) {
		spec_seccomp_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void spec_seccomp_free(struct oci_seccomp *s)
{
	if (!s)
		return;
	strv_free(s->architectures);
	strv_free(s->flag_names);
	free(s->listener_path);
	free(s->listener_metadata);
	for (size_t i = 0; s->syscalls && i < s->n_syscalls; i++)
		strv_free(s->syscalls[i].names);
	free(s->syscalls);
	free(s);
}

/* ---- writer ---- */

static void action_to_json(json_t *o, const char *key, const char *ret_key,
			   enum oci_seccomp_action a, bool has_ret, uint32_t ret)
{
	json_object_set_new(o, key, json_string(spec_seccomp_action_name(a)));
	if (has_ret)
		json_object_set_new(o, ret_key, json_integer(ret));
}

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();

	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

json_t *spec_seccomp_to_json(const struct oci_seccomp *s)
{
	json_t *o = json_object(), *calls = json_array();

	action_to_json(o, "defaultAction", "defaultErrnoRet", s->default_action,
		       s->has_default_errno_ret, s->default_errno_ret);
	if (s->architectures)
		json_object_set_new(o, "architectures", strv_json(s->architectures));
	if (s->flag_names)
		json_object_set_new(o, "flags", strv_json(s->flag_names));
	if (s->listener_path)
		json_object_set_new(o, "listenerPath", json_string(s->listener_path));
	if (s->listener_metadata)
		json_object_set_new(o, "listenerMetadata", json_string(s->listener_metadata));
	for (size_t i = 0; i < s->n_syscalls; i++) {
		const struct oci_seccomp_rule *r = &s->syscalls[i];
		json_t *x = json_pack("{s:o}", "names", strv_json(r->names));
		json_t *args = json_array();

		action_to_json(x, "action", "errnoRet", r->action, r->has_errno_ret, r->errno_ret);
		for (size_t k = 0; k < r->n_args; k++) {
			json_t *a = json_pack("{s:i,s:o,s:s}", "index", (int)r->args[k].index,
					      "value", spec_json_u64(r->args[k].value), "op",
					      spec_seccomp_op_name(r->args[k].op));

			if (r->args[k].value_two)
				json_object_set_new(a, "valueTwo", spec_json_u64(r->args[k].value_two));
			json_array_append_new(args, a);
		}
		if (r->n_args)
			json_object_set_new(x, "args", args);
		else
			json_decref(args);
		json_array_append_new(calls, x);
	}
	json_object_set_new(o, "syscalls", calls);
	return o;
}
