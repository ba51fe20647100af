/* config.json: top level, root, process and hooks (runtime-spec config.md). */
#include "spec/spec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/log.h"
#include "common/path.h"
#include "common/strv.h"
#include "spec/spec-internal.h"

static const char *const hook_names[OCI_HOOK_COUNT] = {
	[OCI_HOOK_PRESTART] = "prestart",
	[OCI_HOOK_CREATE_RUNTIME] = "createRuntime",
	[OCI_HOOK_CREATE_CONTAINER] = "createContainer",
	[OCI_HOOK_START_CONTAINER] = "startContainer",
	[OCI_HOOK_POSTSTART] = "poststart",
	[OCI_HOOK_POSTSTOP] = "poststop",
};

const char *spec_hook_name(enum oci_hook_kind kind)
{
	return kind < OCI_HOOK_COUNT ? hook_names[kind] : "?";
}

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "RLIMIT_CPU", RLIMIT_CPU },		{ "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_DATA", RLIMIT_DATA },		{ "RLIMIT_STACK", RLIMIT_STACK },
	{ "RLIMIT_CORE", RLIMIT_CORE },		{ "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },	{ "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },	{ "RLIMIT_AS", RLIMIT_AS },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },	{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },	{ "RLIMIT_RTTIME", RLIMIT_RTTIME },
};

/* Capability names in number order (linux/capability.h, up to CAP_CHECKPOINT_RESTORE). */
static const char *const cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};

int spec_cap_from_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
		if (strcasecmp(name, cap_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *spec_cap_name(int cap)
{
	return cap >= 0 && (size_t)cap < ARRAY_SIZE(cap_names) ? cap_names[cap] : NULL;
}

int spec_cap_last(void)
{
	return (int)ARRAY_SIZE(cap_names) - 1;
}

int spec_hooks_parse(json_t *hooks, const char *where, struct oci_hook *out[OCI_HOOK_COUNT],
		    size_t n_out[OCI_HOOK_COUNT], struct hull_err *err)
{
	for (int k = 0; k < OCI_HOOK_COUNT; k++) {
		json_t *arr = NULL, *item;
		size_t i;
		int r;

		r = hjson_get_arr(hooks, hook_names[k], where, false, &arr, err);
		if (r < 0)
			return r;
		if (!arr)
			continue;
		if (json_array_size(arr) > OCI_MAX_HOOKS)
			return hull_err_setx(err, E2BIG, "%s.%s: more than %d hooks", where,
					     hook_names[k], OCI_MAX_HOOKS);
		out[k] = xcalloc(json_array_size(arr) + 1, sizeof(struct oci_hook));
		json_array_foreach(arr, i, item) {
			struct oci_hook *h = &out[k][i];
			char w[256];
			const char *path = NULL;
			int64_t timeout = 0;

			n_out[k] = i + 1;
			(void)snprintf(w, sizeof(w), "%s.%s[%zu]", where, hook_names[k], i);
			if (!json_is_object(item))
				return hull_err_setx(err, EINVAL, "%s: expected an object, got %s",
						     w, hjson_type_name(item));
			if ((r = hjson_get_str(item, "path", w, true, &path, err)) < 0 ||
			    (r = hjson_get_strv(item, "args", w, false, OCI_MAX_ARGS, &h->args,
						err)) < 0 ||
			    (r = hjson_get_strv(item, "env", w, false, OCI_MAX_ENV, &h->env, err)) <
				    0 ||
			    (r = hjson_get_int(item, "timeout", w, false, 1, INT_MAX, &timeout,
					       err)) < 0)
				return r;
			if (!path_is_absolute(path))
				return hull_err_setx(err, EINVAL,
						     "%s.path: \"%s\" is not an absolute path", w,
						     path);
			h->path = xstrdup(path);
			h->timeout = (int)timeout;
		}
	}
	return 0;
}

void spec_hooks_free(struct oci_hook *hooks[OCI_HOOK_COUNT], size_t n[OCI_HOOK_COUNT])
{
	for (int k = 0; k < OCI_HOOK_COUNT; k++) {
		for (size_t i = 0; hooks[k] && i < n[k]; i++) {
			free(hooks[k][i].path);
			strv_free(hooks[k][i].args);
			strv_free(hooks[k][i].env);
		}
		free(hooks[k]);
		hooks[k] = NULL;
		n[k] = 0;
	}
}

static int parse_rlimits(json_t *proc, const char *pw, struct oci_process *p, struct hull_err *err)
{
	json_t *arr = NULL, *item;
	size_t i;
	int r;

	r = hjson_get_arr(proc, "rlimits", pw, false, &arr, err);
	if (r < 0 || !arr)
		return r;
	if (json_array_size(arr) > OCI_MAX_RLIMITS)
		return hull_err_setx(err, E2BIG, "%s.rlimits: more than %d items",
				     pw, OCI_MAX_RLIMITS);
	p->rlimits = xcalloc(json_array_size(arr) + 1, sizeof(*p->rlimits));
	json_array_foreach(arr, i, item) {
		struct oci_rlimit *rl = &p->rlimits[i];
		const char *type = NULL;
		char w[128];
		size_t k;

		(void)snprintf(w, sizeof(w), "%s.rlimits[%zu]", pw, i);
		if (!json_is_object(item))
			return hull_err_setx(err, EINVAL, "%s: expected an object, got %s", w,
					     hjson_type_name(item));
		if ((r = hjson_get_str(item, "type", w, true, &type, err)) < 0 ||
		    (r = hjson_get_u64(item, "soft", w, true, &rl->soft, err)) < 0 ||
		    (r = hjson_get_u64(item, "hard", w, true, &rl->hard, err)) < 0)
			return r;
		for (k = 0; k < ARRAY_SIZE(rlimit_names); k++)
			if (strcmp(type, rlimit_names[k].name) == 0)
				break;
		if (k == ARRAY_SIZE(rlimit_names))
			return hull_err_setx(err, EINVAL, "%s.type: unknown rlimit \"%s\"", w,
					     type);
		for (size_t j = 0; j < i; j++)
			if (p->rlimits[j].resource == rlimit_names[k].resource)
				return hull_err_setx(err, EINVAL,
						     "%s.type: duplicate rlimit \"%s\"", w, type);
		if (rl->soft > rl->hard)
			return hull_err_setx(err, EINVAL,
					     "%s: %s: soft limit %llu is above the hard limit %llu",
					     w, rlimit_names[k].name, (unsigned long long)rl->soft,
					     (unsigned long long)rl->hard);
		rl->resource = rlimit_names[k].resource;
		rl->name = rlimit_names[k].name;
		p->n_rlimits = i + 1;
	}
	return 0;
}

static int parse_caps(json_t *proc, const char *pw, struct oci_process *p, struct hull_err *err)
{
	static const char *const set_names[OCI_CAP_COUNT] = {
		[OCI_CAP_BOUNDING] = "bounding",   [OCI_CAP_EFFECTIVE] = "effective",
		[OCI_CAP_INHERITABLE] = "inheritable", [OCI_CAP_PERMITTED] = "permitted",
		[OCI_CAP_AMBIENT] = "ambient",
	};
	cleanup_free char *cw = xasprintf("%s.capabilities", pw);
	json_t *caps = NULL;
	int r;

	r = hjson_get_obj(proc, "capabilities", pw, false, &caps, err);
	if (r < 0 || !caps)
		return r;
	p->has_caps = true;
	for (int s = 0; s < OCI_CAP_COUNT; s++) {
		cleanup_strv char **names = NULL;

		r = hjson_get_strv(caps, set_names[s], cw, false,
				   256, &names, err);
		if (r < 0)
			return r;
		for (size_t i = 0; names && names[i]; i++) {
			int c = spec_cap_from_name(names[i]);

			/* As runc 1.1 ("ignoring unknown or unavailable capabilities"): a name
			 * nobody knows is skipped with a warning, so that configs written for
			 * newer kernels still run. Skipping only ever grants less. A known
			 * capability the running kernel lacks is a host question: container/caps.c
			 * drops it where the sets are applied. docs/runtime.md "Capabilities". */
			if (c < 0) {
				log_warn("%s.%s[%zu]: unknown capability \"%s\" ignored", cw,
					 set_names[s], i, names[i]);
				continue;
			}
			p->caps[s] |= 1ULL << c;
		}
	}
	return 0;
}

static int parse_user(json_t *proc, const char *pw, struct oci_process *p, struct hull_err *err)
{
	cleanup_free char *w = xasprintf("%s.user", pw);
	json_t *user = NULL, *gids = NULL, *item;
	int64_t v = 0;
	size_t i;
	int r;

	r = hjson_get_obj(proc, "user", pw, false, &user, err);
	if (r < 0 || !user)
		return r;
	if ((r = hjson_get_int(user, "uid", w, false, 0, UINT32_MAX - 1, &v, err)) < 0)
		return r;
	p->uid = (uint32_t)v;
	v = 0;
	if ((r = hjson_get_int(user, "gid", w, false, 0, UINT32_MAX - 1, &v, err)) < 0)
		return r;
	p->gid = (uint32_t)v;
	v = -1;
	if ((r = hjson_get_int(user, "umask", w, false, 0, 0777, &v, err)) < 0)
		return r;
	if (v >= 0) {
		p->has_umask = true;
		p->umask = (uint32_t)v;
	}
	if ((r = hjson_get_arr(user, "additionalGids", w, false, &gids, err)) < 0 || !gids)
		return r;
	if (json_array_size(gids) > OCI_MAX_GIDS)
		return hull_err_setx(err, E2BIG, "%s.additionalGids: more than %d items", w,
				     OCI_MAX_GIDS);
	p->additional_gids = xcalloc(json_array_size(gids) + 1, sizeof(uint32_t));
	json_array_foreach(gids, i, item) {
		if (!json_is_integer(item) || json_integer_value(item) < 0 ||
		    json_integer_value(item) >= (json_int_t)UINT32_MAX)
			return hull_err_setx(err, EINVAL,
					     "%s.additionalGids[%zu]: expected a gid (an integer "
					     "from 0 to 4294967294), got %s",
					     w, i, hjson_type_name(item));
		p->additional_gids[i] = (uint32_t)json_integer_value(item);
		p->n_additional_gids = i + 1;
	}
	return 0;
}

struct name_val {
	const char *name;
	uint64_t val;
};

static const struct name_val sched_policies[] = {
	{ "SCHED_OTHER", 0 }, { "SCHED_FIFO", 1 },  { "SCHED_RR", 2 },	  { "SCHED_BATCH", 3 },
	{ "SCHED_ISO", 4 },   { "SCHED_IDLE", 5 },  { "SCHED_DEADLINE", 6 },
};

static const struct name_val sched_flags[] = {
	{ "SCHED_FLAG_RESET_ON_FORK", 0x01 }, { "SCHED_FLAG_RECLAIM", 0x02 },
	{ "SCHED_FLAG_DL_OVERRUN", 0x04 },    { "SCHED_FLAG_KEEP_POLICY", 0x08 },
	{ "SCHED_FLAG_KEEP_PARAMS", 0x10 },   { "SCHED_FLAG_UTIL_CLAMP_MIN", 0x20 },
	{ "SCHED_FLAG_UTIL_CLAMP_MAX", 0x40 },
};

static const struct name_val ioprio_classes[] = {
	{ "IOPRIO_CLASS_RT", 1 }, { "IOPRIO_CLASS_BE", 2 }, { "IOPRIO_CLASS_IDLE", 3 },
};

/* The value of name in t, or -1. */
static int64_t name_find(const struct name_val *t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return (int64_t)t[i].val;
	return -1;
}

static int parse_scheduler(json_t *proc, const char *pw, struct oci_process *p,
			   struct hull_err *err)
{
	cleanup_free char *w = xasprintf("%s.scheduler", pw);
	cleanup_strv char **flags = NULL;
	struct oci_scheduler *sc = &p->scheduler;
	json_t *o = NULL;
	const char *policy = NULL;
	int64_t v = 0;
	int r;

	if ((r = hjson_get_obj(proc, "scheduler", pw, false, &o, err)) < 0 || !o)
		return r;
	if ((r = hjson_get_str(o, "policy", w, true, &policy, err)) < 0)
		return r;
	if ((v = name_find(sched_policies, ARRAY_SIZE(sched_policies), policy)) < 0)
		return hull_err_setx(err, EINVAL, "%s.policy: unknown policy \"%s\"", w, policy);
	sc->policy = (uint32_t)v;
	v = 0;
	if ((r = hjson_get_int(o, "nice", w, false, -20, 19, &v, err)) < 0)
		return r;
	sc->nice = (int32_t)v;
	v = 0;
	if ((r = hjson_get_int(o, "priority", w, false, 0, 99, &v, err)) < 0)
		return r;
	sc->priority = (uint32_t)v;
	if ((r = hjson_get_u64(o, "runtime", w, false, &sc->runtime, err)) < 0 ||
	    (r = hjson_get_u64(o, "deadline", w, false, &sc->deadline, err)) < 0 ||
	    (r = hjson_get_u64(o, "period", w, false, &sc->period, err)) < 0 ||
	    (r = hjson_get_strv(o, "flags", w, false, 16, &flags, err)) < 0)
		return r;
	for (size_t i = 0; flags && flags[i]; i++) {
		int64_t f = name_find(sched_flags, ARRAY_SIZE(sched_flags), flags[i]);

		if (f < 0)
			return hull_err_setx(err, EINVAL, "%s.flags[%zu]: unknown flag \"%s\"", w, i,
					     flags[i]);
		sc->flags |= (uint64_t)f;
	}
	/* The kernel's own checks (sched(7)), said here with the field's name. */
	if ((sc->policy == 1 || sc->policy == 2) && sc->priority < 1)
		return hull_err_setx(err, EINVAL, "%s.priority: %s needs a priority from 1 to 99",
				     w, policy);
	if (sc->policy != 1 && sc->policy != 2 && sc->priority)
		return hull_err_setx(err, EINVAL, "%s.priority: must be 0 for %s", w, policy);
	if (sc->policy == 6 && (!sc->runtime || sc->runtime > sc->deadline ||
				(sc->period && sc->deadline > sc->period)))
		return hull_err_setx(err, EINVAL, "%s: SCHED_DEADLINE needs 0 < runtime <= "
				     "deadline <= period", w);
	p->has_scheduler = true;
	return 0;
}

static int parse_io_priority(json_t *proc, const char *pw, struct oci_process *p,
			     struct hull_err *err)
{
	cleanup_free char *w = xasprintf("%s.ioPriority", pw);
	json_t *o = NULL;
	const char *cls = NULL;
	int64_t c, level = 0;
	int r;

	if ((r = hjson_get_obj(proc, "ioPriority", pw, false, &o, err)) < 0 || !o)
		return r;
	if ((r = hjson_get_str(o, "class", w, true, &cls, err)) < 0 ||
	    (r = hjson_get_int(o, "priority", w, false, 0, 7, &level, err)) < 0)
		return r;
	if ((c = name_find(ioprio_classes, ARRAY_SIZE(ioprio_classes), cls)) < 0)
		return hull_err_setx(err, EINVAL, "%s.class: unknown class \"%s\"", w, cls);
	p->has_io_priority = true;
	p->io_priority = (int)((c << 13) | level); /* IOPRIO_PRIO_VALUE */
	return 0;
}

int spec_process_parse(json_t *proc, const char *w, struct oci_process *p, struct hull_err *err)
{
	cleanup_free char *csw = xasprintf("%s.consoleSize", w);
	json_t *cs = NULL;
	const char *cwd = NULL, *str = NULL;
	int64_t v = 0;
	int r;

	if (!json_is_object(proc))
		return hull_err_setx(err, EINVAL, "%s: expected an object, got %s", w,
				     hjson_type_name(proc));
	if ((r = hjson_get_bool(proc, "terminal", w, false, &p->terminal, err)) < 0 ||
	    (r = hjson_get_strv(proc, "args", w, true, OCI_MAX_ARGS, &p->args, err)) < 0 ||
	    (r = hjson_get_strv(proc, "env", w, false, OCI_MAX_ENV, &p->env, err)) < 0 ||
	    (r = hjson_get_str(proc, "cwd", w, true, &cwd, err)) < 0 ||
	    (r = hjson_get_bool(proc, "noNewPrivileges", w, false, &p->no_new_privileges, err)) <
		    0)
		return r;
	if (!p->args[0])
		return hull_err_setx(err, EINVAL, "%s.args: must not be empty", w);
	if (!p->env)
		p->env = xcalloc(1, sizeof(char *));
	for (size_t i = 0; p->env[i]; i++)
		if (!strchr(p->env[i], '=') || p->env[i][0] == '=')
			return hull_err_setx(err, EINVAL,
					     "%s.env[%zu]: \"%s\" is not of the form NAME=VALUE", w,
					     i, p->env[i]);
	if (!path_is_absolute(cwd))
		return hull_err_setx(err, EINVAL, "%s.cwd: \"%s\" is not an absolute path", w, cwd);
	p->cwd = xstrdup(cwd);
	if ((r = hjson_get_obj(proc, "consoleSize", w, false, &cs, err)) < 0)
		return r;
	if (cs) {
		if ((r = hjson_get_int(cs, "height", csw, true, 0,
				       UINT16_MAX, &v, err)) < 0)
			return r;
		p->console_height = (unsigned)v;
		if ((r = hjson_get_int(cs, "width", csw, true, 0,
				       UINT16_MAX, &v, err)) < 0)
			return r;
		p->console_width = (unsigned)v;
	}
	v = INT64_MIN;
	if ((r = hjson_get_int(proc, "oomScoreAdj", w, false, -1000, 1000, &v, err)) < 0)
		return r;
	if (v != INT64_MIN) {
		p->has_oom_score_adj = true;
		p->oom_score_adj = (int)v;
	}
	if ((r = hjson_get_str(proc, "apparmorProfile", w, false, &str, err)) < 0)
		return r;
	p->apparmor_profile = str && *str ? xstrdup(str) : NULL;
	str = NULL;
	if ((r = hjson_get_str(proc, "selinuxLabel", w, false, &str, err)) < 0)
		return r;
	p->selinux_label = str && *str ? xstrdup(str) : NULL;
	if ((r = parse_user(proc, w, p, err)) < 0 || (r = parse_rlimits(proc, w, p, err)) < 0 ||
	    (r = parse_scheduler(proc, w, p, err)) < 0 ||
	    (r = parse_io_priority(proc, w, p, err)) < 0)
		return r;
	return parse_caps(proc, w, p, err);
}

static int parse_process(json_t *root, struct oci_spec *s, struct hull_err *err)
{
	json_t *proc = NULL;
	int r;

	r = hjson_get_obj(root, "process", "config.json", false, &proc, err);
	if (r < 0 || !proc)
		return r;
	s->has_process = true;
	return spec_process_parse(proc, "config.json: process", &s->process, err);
}

static int parse_root(json_t *doc, struct oci_spec *s, struct hull_err *err)
{
	json_t *root = NULL;
	const char *path = NULL;
	int r;

	if ((r = hjson_get_obj(doc, "root", "config.json", true, &root, err)) < 0 ||
	    (r = hjson_get_str(root, "path", "config.json: root", true, &path, err)) < 0 ||
	    (r = hjson_get_bool(root, "readonly", "config.json: root", false, &s->root_readonly,
				err)) < 0)
		return r;
	if (!*path)
		return hull_err_setx(err, EINVAL, "config.json: root.path: must not be empty");
	s->root_path = path_is_absolute(path) ? path_normalize(path) : ({
		cleanup_free char *j = path_join(s->bundle, path);
		path_normalize(j);
	});
	return 0;
}

static int parse_annotations(json_t *doc, struct oci_spec *s, struct hull_err *err)
{
	json_t *ann = NULL, *v;
	const char *key;
	int r;

	r = hjson_get_obj(doc, "annotations", "config.json", false, &ann, err);
	if (r < 0)
		return r;
	if (!ann) {
		s->annotations = json_object();
		return 0;
	}
	json_object_foreach(ann, key, v) {
		if (!json_is_string(v))
			return hull_err_setx(
				err, EINVAL,
				"config.json: annotations.%s: expected a string, got %s", key,
				hjson_type_name(v));
	}
	s->annotations = json_incref(ann);
	return 0;
}

static int parse_doc(struct oci_spec *s, struct hull_err *err)
{
	json_t *doc = s->json, *hooks = NULL;
	const char *ver = NULL, *str = NULL;
	int r;

	if (!json_is_object(doc))
		return hull_err_setx(err, EINVAL, "config.json: expected an object, got %s",
				     hjson_type_name(doc));
	if ((r = hjson_get_str(doc, "ociVersion", "config.json", true, &ver, err)) < 0)
		return r;
	if (strncmp(ver, "1.", 2) != 0)
		return hull_err_setx(
			err, EINVAL,
			"config.json: ociVersion: unsupported version \"%s\" (need 1.x)", ver);
	s->oci_version = xstrdup(ver);
	if ((r = parse_root(doc, s, err)) < 0 || (r = parse_process(doc, s, err)) < 0)
		return r;
	if ((r = hjson_get_str(doc, "hostname", "config.json", false, &str, err)) < 0)
		return r;
	s->hostname = str ? xstrdup(str) : NULL;
	str = NULL;
	if ((r = hjson_get_str(doc, "domainname", "config.json", false, &str, err)) < 0)
		return r;
	s->domainname = str ? xstrdup(str) : NULL;
	if ((r = spec_parse_mounts(doc, s, err)) < 0)
		return r;
	if ((r = hjson_get_obj(doc, "hooks", "config.json", false, &hooks, err)) < 0)
		return r;
	if (hooks) {
		s->hooks_json = json_incref(hooks);
		if ((r = spec_hooks_parse(hooks, "config.json: hooks", s->hooks, s->n_hooks, err)) <
		    0)
			return r;
	}
	if ((r = parse_annotations(doc, s, err)) < 0)
		return r;
	return spec_parse_linux(doc, s, err);
}

int spec_parse(const char *buf, size_t len, const char *name, const char *bundle,
		   struct oci_spec **ret, struct hull_err *err)
{
	cleanup_oci_spec struct oci_spec *s = xcalloc(1, sizeof(*s));
	int r;

	s->bundle = xstrdup(bundle);
	if ((r = hjson_load_buf(buf, len, name, &s->json, err)) < 0)
		return r;
	if ((r = parse_doc(s, err)) < 0)
		return r;
	*ret = steal_ptr(&s);
	return 0;
}

int spec_load(const char *bundle, struct oci_spec **ret, struct hull_err *err)
{
	cleanup_free char *abs = NULL, *buf = NULL, *cfg = NULL;
	cleanup_oci_spec struct oci_spec *s = NULL;
	struct stat st;
	size_t len = 0;
	int r;

	abs = realpath(bundle, NULL);
	if (!abs)
		return hull_err_set(err, errno, "bundle %s", bundle);
	cfg = path_join(abs, "config.json");
	r = fd_read_file_at(AT_FDCWD, cfg, OCI_CONFIG_MAX_SIZE, &buf, &len);
	if (r == -EFBIG)
		return hull_err_setx(err, EFBIG, "config.json: larger than %u bytes",
				     OCI_CONFIG_MAX_SIZE);
	if (r < 0)
		return hull_err_set(err, -r, "config.json: %s", cfg);
	if ((r = spec_parse(buf, len, "config.json", abs, &s, err)) < 0)
		return r;
	if (stat(s->root_path, &st) < 0)
		return hull_err_set(err, errno, "config.json: root.path: %s", s->root_path);
	if (!S_ISDIR(st.st_mode))
		return hull_err_setx(err, ENOTDIR, "config.json: root.path: %s: not a directory",
				     s->root_path);
	*ret = steal_ptr(&s);
	return 0;
}

void spec_process_clear(struct oci_process *p)
{
	strv_free(p->args);
	strv_free(p->env);
	free(p->cwd);
	free(p->additional_gids);
	free(p->rlimits);
	free(p->apparmor_profile);
	free(p->selinux_label);
	memset(p, 0, sizeof(*p));
}

void spec_free(struct oci_spec *s)
{
	if (!s)
		return;
	free(s->oci_version);
	free(s->bundle);
	free(s->root_path);
	free(s->hostname);
	free(s->domainname);
	spec_process_clear(&s->process);
	for (size_t i = 0; s->mounts && i < s->n_mounts; i++) {
		free(s->mounts[i].destination);
		free(s->mounts[i].type);
		free(s->mounts[i].source);
		free(s->mounts[i].data);
		free(s->mounts[i].uid_mappings);
		free(s->mounts[i].gid_mappings);
	}
	free(s->mounts);
	spec_hooks_free(s->hooks, s->n_hooks);
	for (int k = 0; k < OCI_NS_COUNT; k++)
		free(s->ns[k].path);
	free(s->uid_mappings);
	free(s->gid_mappings);
	for (size_t i = 0; s->devices && i < s->n_devices; i++)
		free(s->devices[i].path);
	free(s->devices);
	for (size_t i = 0; s->sysctl && i < s->n_sysctl; i++) {
		free(s->sysctl[i].key);
		free(s->sysctl[i].value);
	}
	free(s->sysctl);
	strv_free(s->masked_paths);
	strv_free(s->readonly_paths);
	free(s->mount_label);
	free(s->cgroups_path);
	json_decref(s->hooks_json);
	json_decref(s->annotations);
	spec_resources_clear(&s->resources);
	spec_seccomp_free(s->seccomp);
	json_decref(s->json);
	free(s);
}

/* ---- writer ---- */

static const char *name_of(const struct name_val *t, size_t n, uint64_t val)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].val == val)
			return t[i].name;
	return NULL;
}

static json_t *strv_to_json(char *const *v)
{
	json_t *a = json_array();

	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *caps_to_json(const struct oci_process *p)
{
	static const char *const set_names[OCI_CAP_COUNT] = {
		[OCI_CAP_BOUNDING] = "bounding",   [OCI_CAP_EFFECTIVE] = "effective",
		[OCI_CAP_INHERITABLE] = "inheritable", [OCI_CAP_PERMITTED] = "permitted",
		[OCI_CAP_AMBIENT] = "ambient",
	};
	json_t *o = json_object();

	for (int s = 0; s < OCI_CAP_COUNT; s++) {
		json_t *a = json_array();

		for (int c = 0; c <= spec_cap_last(); c++)
			if (p->caps[s] & (1ULL << c))
				json_array_append_new(a, json_string(spec_cap_name(c)));
		json_object_set_new(o, set_names[s], a);
	}
	return o;
}

static json_t *scheduler_to_json(const struct oci_scheduler *sc)
{
	json_t *o = json_object(), *flags = json_array();

	json_object_set_new(o, "policy", json_string(name_of(sched_policies,
							     ARRAY_SIZE(sched_policies),
							     sc->policy)));
	json_object_set_new(o, "nice", json_integer(sc->nice));
	json_object_set_new(o, "priority", json_integer(sc->priority));
	for (size_t i = 0; i < ARRAY_SIZE(sched_flags); i++)
		if (sc->flags & sched_flags[i].val)
			json_array_append_new(flags, json_string(sched_flags[i].name));
	json_object_set_new(o, "flags", flags);
	if (sc->runtime)
		json_object_set_new(o, "runtime", spec_json_u64(sc->runtime));
	if (sc->deadline)
		json_object_set_new(o, "deadline", spec_json_u64(sc->deadline));
	if (sc->period)
		json_object_set_new(o, "period", spec_json_u64(sc->period));
	return o;
}

static json_t *user_to_json(const struct oci_process *p)
{
	json_t *u = json_pack("{s:I,s:I}", "uid", (json_int_t)p->uid, "gid", (json_int_t)p->gid);

	if (p->has_umask)
		json_object_set_new(u, "umask", json_integer(p->umask));
	if (p->n_additional_gids) {
		json_t *a = json_array();

		for (size_t i = 0; i < p->n_additional_gids; i++)
			json_array_append_new(a, json_integer(p->additional_gids[i]));
		json_object_set_new(u, "additionalGids", a);
	}
	return u;
}

static void process_extras_to_json(const struct oci_process *p, json_t *o)
{
	if (p->has_oom_score_adj)
		json_object_set_new(o, "oomScoreAdj", json_integer(p->oom_score_adj));
	if (p->has_caps)
		json_object_set_new(o, "capabilities", caps_to_json(p));
	if (p->apparmor_profile)
		json_object_set_new(o, "apparmorProfile", json_string(p->apparmor_profile));
	if (p->selinux_label)
		json_object_set_new(o, "selinuxLabel", json_string(p->selinux_label));
	if (p->has_scheduler)
		json_object_set_new(o, "scheduler", scheduler_to_json(&p->scheduler));
	if (p->has_io_priority)
		json_object_set_new(o, "ioPriority",
				    json_pack("{s:s,s:i}", "class",
					      name_of(ioprio_classes, ARRAY_SIZE(ioprio_classes),
						      (uint64_t)(p->io_priority >> 13)),
					      "priority", p->io_priority & 0x1fff));
	if (p->n_rlimits) {
		json_t *a = json_array();

		for (size_t i = 0; i < p->n_rlimits; i++)
			json_array_append_new(a, json_pack("{s:s,s:o,s:o}", "type",
							   p->rlimits[i].name, "hard",
							   spec_json_u64(p->rlimits[i].hard), "soft",
							   spec_json_u64(p->rlimits[i].soft)));
		json_object_set_new(o, "rlimits", a);
	}
}

json_t *spec_process_to_json(const struct oci_process *p)
{
	json_t *o = json_object();

	json_object_set_new(o, "terminal", json_boolean(p->terminal));
	if (p->console_height || p->console_width)
		json_object_set_new(o, "consoleSize",
				    json_pack("{s:i,s:i}", "height", (int)p->console_height,
					      "width", (int)p->console_width));
	json_object_set_new(o, "user", user_to_json(p));
	json_object_set_new(o, "args", strv_to_json(p->args));
	json_object_set_new(o, "env", strv_to_json(p->env));
	json_object_set_new(o, "cwd", json_string(p->cwd ? p->cwd : "/"));
	json_object_set_new(o, "noNewPrivileges", json_boolean(p->no_new_privileges));
	process_extras_to_json(p, o);
	return o;
}

json_t *spec_hooks_to_json(struct oci_hook *const hooks[OCI_HOOK_COUNT],
			  const size_t n[OCI_HOOK_COUNT])
{
	json_t *o = json_object();

	for (int k = 0; k < OCI_HOOK_COUNT; k++) {
		json_t *a;

		if (!n[k])
			continue;
		a = json_array();
		for (size_t i = 0; i < n[k]; i++) {
			const struct oci_hook *h = &hooks[k][i];
			json_t *x = json_pack("{s:s}", "path", h->path);

			if (h->args)
				json_object_set_new(x, "args", strv_to_json(h->args));
			if (h->env)
				json_object_set_new(x, "env", strv_to_json(h->env));
			if (h->timeout)
				json_object_set_new(x, "timeout", json_integer(h->timeout));
			json_array_append_new(a, x);
		}
		json_object_set_new(o, hook_names[k], a);
	}
	return o;
}
