#include "engine/record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/strv.h"
#include "engine/lifecycle.h"

#define RECORD_MAX_SIZE (1u << 20)
#define RECORD_MAX_ITEMS 65536

static const char *const status_names[CTR_STATUS_COUNT] = {
	[CTR_CREATED] = "created",
	[CTR_RUNNING] = "running",
	[CTR_EXITED] = "exited",
	[CTR_DEAD] = "dead",
};

const char *ctr_status_name(enum ctr_status st)
{
	return st < CTR_STATUS_COUNT ? status_names[st] : "unknown";
}

static void state_clear(struct ctr_state *st)
{
	free(st->started_at);
	free(st->finished_at);
	memset(st, 0, sizeof(*st));
}

void ctr_free(struct ctr *c)
{
	if (!c)
		return;
	free(c->dir);
	free(c->name);
	free(c->created);
	free(c->image);
	free(c->image_name);
	free(c->image_id);
	free(c->path);
	strv_free(c->args);
	free(c->rootfs_mode);
	strv_free(c->layers);
	free(c->backend);
	strv_free(c->config.cmd);
	strv_free(c->config.env);
	free(c->config.working_dir);
	free(c->config.hostname);
	free(c->config.image);
	free(c->config.user);
	free(c->config.stop_signal);
	strv_free(c->config.labels);
	free(c->host.network_mode);
	free(c->host.cpuset_cpus);
	strv_free(c->host.cap_add);
	strv_free(c->host.cap_drop);
	strv_free(c->host.binds);
	strv_free(c->host.security_opt);
	strv_free(c->host.security_opt_given);
	strv_free(c->host.group_add);
	strv_free(c->host.sysctls);
	for (size_t i = 0; i < c->host.n_ulimits; i++)
		free(c->host.ulimits[i].name);
	free(c->host.ulimits);
	for (size_t i = 0; i < c->host.n_devices; i++) {
		free(c->host.devices[i].host);
		free(c->host.devices[i].path);
	}
	free(c->host.devices);
	for (size_t i = 0; i < c->host.n_fields; i++) {
		free(c->host.fields[i].key);
		free(c->host.fields[i].str);
	}
	free(c->host.fields);
	state_clear(&c->state);
	free(c);
}

/* ---- reading ------------------------------------------------------------------------ */

static int load_at(int dirfd, const char *name, json_t **ret, struct hull_err *err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;
	int r = fd_read_file_at(dirfd, name, RECORD_MAX_SIZE, &buf, &len);

	if (r < 0)
		return hull_err_set(err, -r, "%s", name);
	r = hjson_load_buf(buf, len, name, ret, err);
	if (r == 0 && !json_is_object(*ret)) {
		json_decref(steal_ptr(ret));
		return hull_err_setx(err, EINVAL, "%s: expected an object", name);
	}
	return r;
}

/* An optional string field, copied (replacing *dst) when present. */
static int get_str(json_t *o, const char *key, const char *where, char **dst,
		   struct hull_err *err)
{
	const char *v = NULL;
	int r = hjson_get_str(o, key, where, false, &v, err);

	if (r == 0 && v) {
		free(*dst);
		*dst = xstrdup(v);
	}
	return r;
}

static int get_i64(json_t *o, const char *key, const char *where, int64_t *dst,
		   struct hull_err *err)
{
	return hjson_get_int(o, key, where, false, INT64_MIN, INT64_MAX, dst, err);
}

static int get_bool(json_t *o, const char *key, const char *where, bool *dst,
		    struct hull_err *err)
{
	return hjson_get_bool(o, key, where, false, dst, err);
}

static int get_strv(json_t *o, const char *key, const char *where, char ***dst,
		    struct hull_err *err)
{
	int r = hjson_get_strv(o, key, where, false, RECORD_MAX_ITEMS, dst, err);

	if (r == 0 && !*dst)
		*dst = xcalloc(1, sizeof(**dst));
	return r;
}

/* "Version": absent is 0 (hull before the typed record); newer than ours is refused. */
static int get_version(json_t *o, const char *file, unsigned *ret, struct hull_err *err)
{
	int64_t v = 0;
	int r = hjson_get_int(o, "Version", file, false, 0, INT32_MAX, &v, err);

	if (r < 0)
		return r;
	if (v > CTR_RECORD_VERSION)
		return hull_err_setx(err, EPROTONOSUPPORT, "%s: Version %lld: written by a newer "
				     "hull (this one reads up to %d)", file, (long long)v,
				     CTR_RECORD_VERSION);
	*ret = (unsigned)v;
	return 0;
}

/* Config.Labels, HostConfig.Sysctls: an object of strings, as "KEY=VALUE" (absent: none) */
static int get_kv(json_t *o, const char *key, const char *where, char ***dst,
		  struct hull_err *err)
{
	json_t *l = json_object_get(o, key), *v;
	const char *k;

	if (!l || json_is_null(l))
		return 0;
	if (!json_is_object(l) || json_object_size(l) > RECORD_MAX_ITEMS)
		return hull_err_setx(err, EINVAL, "%s: %s: expected an object", where, key);
	json_object_foreach(l, k, v) {
		if (!json_is_string(v))
			return hull_err_setx(err, EINVAL, "%s: %s: %s: expected a string", where,
					     key, k);
		strv_push_owned(dst, xasprintf("%s=%s", k, json_string_value(v)));
	}
	return 0;
}

/* HostConfig.Ulimits [{Name, Soft, Hard}] and HostConfig.Devices [{PathOnHost,
 * PathInContainer, CgroupPermissions}] (null: none) */
static int get_ulimits_devices(json_t *o, const char *where, struct ctr_host_config *h,
			       struct hull_err *err)
{
	json_t *u = json_object_get(o, "Ulimits"), *d = json_object_get(o, "Devices"), *e;
	size_t i;

	if ((u && !json_is_null(u) && (!json_is_array(u) || json_array_size(u) > RECORD_MAX_ITEMS)) ||
	    (d && !json_is_null(d) && (!json_is_array(d) || json_array_size(d) > RECORD_MAX_ITEMS)))
		return hull_err_setx(err, EINVAL, "%s: Ulimits, Devices: expected arrays", where);
	h->ulimits = xcalloc(json_array_size(u) + 1, sizeof(*h->ulimits));
	json_array_foreach(u, i, e) {
		const char *n = json_string_value(json_object_get(e, "Name"));
		json_t *s = json_object_get(e, "Soft"), *hd = json_object_get(e, "Hard");

		if (!n || !json_is_integer(s) || !json_is_integer(hd))
			return hull_err_setx(err, EINVAL, "%s: Ulimits[%zu]: expected Name, Soft "
					     "and Hard", where, i);
		h->ulimits[h->n_ulimits++] = (struct ctr_ulimit){
			.name = xstrdup(n), .soft = json_integer_value(s),
			.hard = json_integer_value(hd) };
	}
	h->devices = xcalloc(json_array_size(d) + 1, sizeof(*h->devices));
	json_array_foreach(d, i, e) {
		const char *a = json_string_value(json_object_get(e, "PathOnHost"));
		const char *b = json_string_value(json_object_get(e, "PathInContainer"));
		const char *p = json_string_value(json_object_get(e, "CgroupPermissions"));
		struct ctr_device *dev;

		if (!a || !b || !p || strlen(p) >= sizeof(dev->perms))
			return hull_err_setx(err, EINVAL, "%s: Devices[%zu]: expected PathOnHost, "
					     "PathInContainer and CgroupPermissions", where, i);
		dev = &h->devices[h->n_devices++];
		*dev = (struct ctr_device){ .host = xstrdup(a), .path = xstrdup(b) };
		memcpy(dev->perms, p, strlen(p) + 1);
	}
	return 0;
}

/* Config.StopTimeout: absent when --stop-timeout was not given (docker's) */
static int get_stop_timeout(json_t *o, const char *where, struct ctr_config *cf,
			    struct hull_err *err)
{
	int64_t t = 0;
	int r;

	if (!json_object_get(o, "StopTimeout"))
		return 0;
	r = hjson_get_int(o, "StopTimeout", where, true, -1, 86400 * 365, &t, err);
	cf->has_stop_timeout = r == 0;
	cf->stop_timeout = (int)t;
	return r;
}

static int read_config(json_t *rec, struct ctr_config *cf, struct hull_err *err)
{
	static const char where[] = "hull.json: Config";
	json_t *o = NULL;
	int r = hjson_get_obj(rec, "Config", "hull.json", false, &o, err);

	if (r == 0)
		r = get_strv(o, "Cmd", where, &cf->cmd, err);
	if (r == 0)
		r = get_strv(o, "Env", where, &cf->env, err);
	if (r == 0)
		r = get_str(o, "WorkingDir", where, &cf->working_dir, err);
	if (r == 0)
		r = get_str(o, "Hostname", where, &cf->hostname, err);
	if (r == 0)
		r = get_bool(o, "Tty", where, &cf->tty, err);
	if (r == 0)
		r = get_bool(o, "OpenStdin", where, &cf->open_stdin, err);
	if (r == 0)
		r = get_str(o, "Image", where, &cf->image, err);
	if (r == 0)
		r = get_str(o, "User", where, &cf->user, err);
	if (r == 0)
		r = get_str(o, "StopSignal", where, &cf->stop_signal, err);
	if (r == 0 && !cf->stop_signal)
		cf->stop_signal = xstrdup("SIGTERM");
	if (r == 0)
		r = get_stop_timeout(o, where, cf, err);
	if (r == 0)
		r = get_kv(o, "Labels", where, &cf->labels, err);
	return r;
}

/* HostConfig.RestartPolicy {Name, MaximumRetryCount} (absent: "no") */
static int get_restart(json_t *o, const char *where, struct ctr_restart *ret,
		       struct hull_err *err)
{
	json_t *p = NULL;
	const char *name = NULL;
	int64_t n = 0;
	int r = hjson_get_obj(o, "RestartPolicy", where, false, &p, err);

	if (r < 0 || !p)
		return r;
	r = hjson_get_str(p, "Name", where, false, &name, err);
	if (r == 0)
		r = hjson_get_int(p, "MaximumRetryCount", where, false, 0, INT32_MAX, &n, err);
	if (r < 0)
		return r;
	if (name && *name && ctr_restart_parse(name, ret) < 0)
		return hull_err_setx(err, EINVAL, "%s: RestartPolicy: unknown Name \"%s\"", where,
				     name);
	ret->max_retries = ret->policy == CTR_RESTART_ON_FAILURE ? (int)n : 0;
	return 0;
}

static int read_host_config(json_t *rec, struct ctr_host_config *h, struct hull_err *err)
{
	static const char where[] = "hull.json: HostConfig";
	json_t *o = NULL;
	int64_t shares = 0;
	int r = hjson_get_obj(rec, "HostConfig", "hull.json", false, &o, err);

	if (r == 0)
		r = get_bool(o, "AutoRemove", where, &h->auto_remove, err);
	if (r == 0)
		r = get_str(o, "NetworkMode", where, &h->network_mode, err);
	if (r == 0)
		r = get_i64(o, "Memory", where, &h->memory, err);
	if (r == 0)
		r = get_i64(o, "NanoCpus", where, &h->nano_cpus, err);
	if (r == 0)
		r = get_i64(o, "PidsLimit", where, &h->pids_limit, err);
	if (r == 0)
		r = get_bool(o, "ReadonlyRootfs", where, &h->readonly_rootfs, err);
	if (r == 0)
		r = get_bool(o, "Privileged", where, &h->privileged, err);
	if (r == 0)
		r = get_strv(o, "CapAdd", where, &h->cap_add, err);
	if (r == 0)
		r = get_strv(o, "CapDrop", where, &h->cap_drop, err);
	if (r == 0)
		r = get_strv(o, "Binds", where, &h->binds, err);
	if (r == 0)
		r = get_i64(o, "MemorySwap", where, &h->memory_swap, err);
	if (r == 0)
		r = hjson_get_int(o, "CpuShares", where, false, 0, INT64_MAX, &shares, err);
	h->cpu_shares = (uint64_t)shares;
	if (r == 0)
		r = get_str(o, "CpusetCpus", where, &h->cpuset_cpus, err);
	if (r == 0)
		r = get_bool(o, "Init", where, &h->init, err);
	if (r == 0)
		r = get_restart(o, where, &h->restart, err);
	if (r == 0)
		r = hjson_get_strv(o, "SecurityOpt", where, false, RECORD_MAX_ITEMS,
				   &h->security_opt, err);
	if (r == 0)
		r = hjson_get_strv(o, "GroupAdd", where, false, RECORD_MAX_ITEMS, &h->group_add,
				   err);
	if (r == 0)
		r = get_kv(o, "Sysctls", where, &h->sysctls, err);
	if (r == 0)
		r = get_ulimits_devices(o, where, h, err);
	if (r == 0 && !h->network_mode)
		h->network_mode = xstrdup("none");
	if (r == 0 && !h->cpuset_cpus)
		h->cpuset_cpus = xstrdup("");
	return r;
}

/* The one-field flags: FieldKeys names the HostConfig keys that hold them. */
static int read_fields(json_t *rec, struct ctr_host_config *h, struct hull_err *err)
{
	static const char where[] = "hull.json: HostConfig";
	cleanup_strv char **keys = NULL;
	json_t *hc = json_object_get(rec, "HostConfig");
	int r = hjson_get_strv(rec, "FieldKeys", "hull.json", false, RECORD_MAX_ITEMS, &keys,
			       err);

	if (r < 0 || !keys)
		return r;
	h->fields = xcalloc(strv_length(keys), sizeof(*h->fields));
	for (size_t i = 0; keys[i]; i++) {
		json_t *v = json_object_get(hc, keys[i]);
		struct ctr_field *f = &h->fields[h->n_fields];

		if (json_is_boolean(v))
			*f = (struct ctr_field){ .type = CTR_FIELD_BOOL, .num = json_is_true(v) };
		else if (json_is_integer(v))
			*f = (struct ctr_field){ .type = CTR_FIELD_NUM, .num = json_integer_value(v) };
		else if (json_is_string(v))
			*f = (struct ctr_field){ .type = CTR_FIELD_STR,
						 .str = xstrdup(json_string_value(v)) };
		else
			return hull_err_setx(err, EBADMSG, "%s.%s: missing or not a number, "
					     "boolean or string", where, keys[i]);
		f->key = xstrdup(keys[i]);
		h->n_fields++;
	}
	return 0;
}

static int read_record(json_t *o, struct ctr *c, struct hull_err *err)
{
	static const char where[] = "hull.json";
	int r = get_version(o, where, &c->version, err);

	if (r == 0)
		r = get_str(o, "Name", where, &c->name, err);
	if (r == 0)
		r = get_str(o, "Created", where, &c->created, err);
	if (r == 0)
		r = get_str(o, "Image", where, &c->image, err);
	if (r == 0)
		r = get_str(o, "ImageName", where, &c->image_name, err);
	if (r == 0)
		r = get_str(o, "ImageID", where, &c->image_id, err);
	if (r == 0)
		r = get_str(o, "Path", where, &c->path, err);
	if (r == 0)
		r = get_strv(o, "Args", where, &c->args, err);
	if (r == 0)
		r = get_str(o, "RootfsMode", where, &c->rootfs_mode, err);
	if (r == 0)
		r = get_strv(o, "Layers", where, &c->layers, err);
	/* version 1 added the backend; every older container ran on the OCI runtime */
	if (r == 0)
		r = get_str(o, "Backend", where, &c->backend, err);
	if (r == 0)
		r = read_config(o, &c->config, err);
	if (r == 0)
		r = read_host_config(o, &c->host, err);
	if (r == 0)
		r = read_fields(o, &c->host, err);
	/* added after version 1 without a bump: optional, and an older hull ignores it */
	c->host.has_security_opt_given = json_is_array(json_object_get(o, "SecurityOptGiven"));
	if (r == 0)
		r = hjson_get_strv(o, "SecurityOptGiven", where, false, RECORD_MAX_ITEMS,
				   &c->host.security_opt_given, err);
	return r;
}

/* Empty strings and vectors where the file had nothing, so that readers need no checks. */
static void record_defaults(struct ctr *c)
{
	char **strs[] = { &c->name, &c->created, &c->image, &c->image_name, &c->rootfs_mode,
			  &c->config.working_dir, &c->config.hostname, &c->config.image,
			  &c->config.user };

	for (size_t i = 0; i < ARRAY_SIZE(strs); i++)
		if (!*strs[i])
			*strs[i] = xstrdup("");
	if (!c->backend)
		c->backend = xstrdup("oci");
	if (!c->config.stop_signal)
		c->config.stop_signal = xstrdup("SIGTERM");
	if (!c->config.cmd)
		c->config.cmd = xcalloc(1, sizeof(char *));
	if (!c->config.labels)
		c->config.labels = xcalloc(1, sizeof(char *));
	if (!c->layers)
		c->layers = xcalloc(1, sizeof(char *));
	if (!c->args)
		c->args = xcalloc(1, sizeof(char *));
}

static void state_dead(struct ctr_state *st)
{
	state_clear(st);
	st->status = CTR_DEAD;
	st->started_at = xstrdup("");
	st->finished_at = xstrdup("");
}

static int read_state(json_t *o, struct ctr_state *st, struct hull_err *err)
{
	static const char where[] = "state.json";
	const char *status = NULL;
	int64_t pid = 0, mon = 0, code = 0, ticks = 0, restarts = 0;
	unsigned version;
	int r = get_version(o, where, &version, err);

	state_dead(st);
	if (r == 0)
		r = hjson_get_str(o, "Status", where, false, &status, err);
	if (r == 0)
		r = hjson_get_int(o, "Pid", where, false, 0, INT32_MAX, &pid, err);
	if (r == 0)
		r = hjson_get_int(o, "MonitorPid", where, false, 0, INT32_MAX, &mon, err);
	if (r == 0)
		r = hjson_get_int(o, "ExitCode", where, false, INT32_MIN, INT32_MAX, &code, err);
	if (r == 0)
		r = hjson_get_int(o, "StartTicks", where, false, 0, INT64_MAX, &ticks, err);
	if (r == 0)
		r = get_bool(o, "OOMKilled", where, &st->oom_killed, err);
	if (r == 0)
		r = get_str(o, "StartedAt", where, &st->started_at, err);
	if (r == 0)
		r = get_str(o, "FinishedAt", where, &st->finished_at, err);
	if (r == 0)
		r = hjson_get_int(o, "RestartCount", where, false, 0, INT32_MAX, &restarts, err);
	if (r < 0)
		return r;
	st->restart_count = (unsigned)restarts;
	/* an unknown status reads as "created", as it always did */
	st->status = CTR_CREATED;
	for (int i = 0; status && i < CTR_STATUS_COUNT; i++)
		if (strcmp(status, status_names[i]) == 0)
			st->status = (enum ctr_status)i;
	st->pid = (pid_t)pid;
	st->monitor_pid = (pid_t)mon;
	st->exit_code = (int)code;
	st->start_ticks = (unsigned long long)ticks;
	return 0;
}

int ctr_state_read_at(int dirfd, struct ctr *c, struct hull_err *err)
{
	cleanup_json json_t *o = NULL;
	struct ctr_state st = { 0 };
	int r = load_at(dirfd, "state.json", &o, err);

	/* state.json goes first when a container is removed (ctr_dir_remove) */
	if (r == -ENOENT) {
		hull_err_clear(err);
		state_dead(&c->state);
		return 0;
	}
	if (r == 0)
		r = read_state(o, &st, err);
	if (r < 0) {
		state_clear(&st);
		return hull_err_prefix(err, "%s", c->dir);
	}
	state_clear(&c->state);
	c->state = st;
	return 0;
}

int ctr_record_read_at(int dirfd, struct ctr *c, struct hull_err *err)
{
	cleanup_json json_t *o = NULL;
	int r = load_at(dirfd, "hull.json", &o, err);

	if (r == -ENOENT)
		return r;
	if (r == 0)
		r = read_record(o, c, err);
	if (r < 0)
		return hull_err_prefix(err, "%s", c->dir);
	record_defaults(c);
	return ctr_state_read_at(dirfd, c, err);
}

void ctr_record_leftover(struct ctr *c)
{
	c->leftover = true;
	record_defaults(c);
	state_dead(&c->state);
}

/* ---- writing ------------------------------------------------------------------------ */

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();

	for (size_t i = 0; v && v[i]; i++)
		(void)json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *labels_json(char *const *v)
{
	json_t *o = json_object();

	for (size_t i = 0; v && v[i]; i++) {
		cleanup_free char *k = xstrndup(v[i], strcspn(v[i], "="));
		const char *eq = strchr(v[i], '=');

		(void)json_object_set_new(o, k, json_string(eq ? eq + 1 : ""));
	}
	return o;
}

json_t *ctr_record_config_json(const struct ctr_config *cf)
{
	json_t *o = json_pack("{s:o, s:o, s:s, s:s, s:b, s:b, s:s, s:s, s:s, s:o}", "Cmd",
			      strv_json(cf->cmd), "Env", strv_json(cf->env), "WorkingDir",
			      cf->working_dir, "Hostname", cf->hostname, "Tty", cf->tty,
			      "OpenStdin", cf->open_stdin, "Image", cf->image, "User", cf->user,
			      "StopSignal", cf->stop_signal, "Labels", labels_json(cf->labels));

	if (o && cf->has_stop_timeout)
		(void)json_object_set_new(o, "StopTimeout", json_integer(cf->stop_timeout));
	return o;
}

/* SecurityOpt, GroupAdd, Sysctls, Ulimits and Devices in docker's shapes (null: none) */
static void security_json(const struct ctr_host_config *h, json_t *o)
{
	json_t *u = json_array(), *d = json_array();

	(void)json_object_set_new(o, "SecurityOpt", h->security_opt ? strv_json(h->security_opt)
								    : json_null());
	(void)json_object_set_new(o, "GroupAdd", h->group_add ? strv_json(h->group_add)
							      : json_null());
	(void)json_object_set_new(o, "Sysctls", h->sysctls ? labels_json(h->sysctls)
							   : json_null());
	for (size_t i = 0; i < h->n_ulimits; i++)
		(void)json_array_append_new(u, json_pack("{s:s, s:I, s:I}", "Name",
							 h->ulimits[i].name, "Hard",
							 (json_int_t)h->ulimits[i].hard, "Soft",
							 (json_int_t)h->ulimits[i].soft));
	for (size_t i = 0; i < h->n_devices; i++)
		(void)json_array_append_new(d, json_pack("{s:s, s:s, s:s}", "PathOnHost",
							 h->devices[i].host, "PathInContainer",
							 h->devices[i].path, "CgroupPermissions",
							 h->devices[i].perms));
	if (json_array_size(u) == 0) {
		json_decref(u);
		u = json_null();
	}
	(void)json_object_set_new(o, "Ulimits", u);
	(void)json_object_set_new(o, "Devices", d);
}

json_t *ctr_record_host_config_json(const struct ctr_host_config *h)
{
	json_t *o = json_pack("{s:b, s:s, s:I, s:I, s:I, s:b, s:b, s:o, s:o, s:o, s:I, s:I, s:s}",
			 "AutoRemove", h->auto_remove, "NetworkMode", h->network_mode, "Memory",
			 (json_int_t)h->memory, "NanoCpus", (json_int_t)h->nano_cpus, "PidsLimit",
			 (json_int_t)h->pids_limit, "ReadonlyRootfs", h->readonly_rootfs,
			 "Privileged", h->privileged, "CapAdd", strv_json(h->cap_add), "CapDrop",
			 strv_json(h->cap_drop), "Binds", strv_json(h->binds), "MemorySwap",
			 (json_int_t)h->memory_swap, "CpuShares", (json_int_t)h->cpu_shares,
			 "CpusetCpus", h->cpuset_cpus);

	if (o) {
		(void)json_object_set_new(o, "Init", json_boolean(h->init));
		(void)json_object_set_new(o, "RestartPolicy",
					  json_pack("{s:s, s:i}", "Name",
						    ctr_restart_name(h->restart.policy),
						    "MaximumRetryCount", h->restart.max_retries));
		security_json(h, o);
		for (size_t i = 0; i < h->n_fields; i++) {
			const struct ctr_field *f = &h->fields[i];

			(void)json_object_set_new(
				o, f->key,
				f->type == CTR_FIELD_STR    ? json_string(f->str)
				: f->type == CTR_FIELD_BOOL ? json_boolean(f->num)
							    : json_integer((json_int_t)f->num));
		}
	}
	return o;
}

json_t *ctr_record_host_config_shown(const struct ctr_host_config *h)
{
	json_t *o = ctr_record_host_config_json(h);
	char **v = h->security_opt_given;

	if (o && h->has_security_opt_given)
		(void)json_object_set_new(o, "SecurityOpt", v && *v ? strv_json(v) : json_null());
	return o;
}

static int write_json(const char *dir, const char *name, json_t *o, struct hull_err *err)
{
	cleanup_free char *buf = NULL;
	cleanup_close int dfd = -1;
	int r;

	if (!o)
		return hull_err_setx(err, EINVAL, "%s/%s: incomplete record", dir, name);
	buf = hjson_dump(o, JSON_COMPACT);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return hull_err_set(err, errno, "%s", dir);
	/* records are rewritten on every state change and a container does not outlive a
	 * reboot: atomicity matters, durability does not (the image store does fsync) */
	r = fd_replace_file_at(dfd, name, buf, strlen(buf), 0600, 0);
	if (r < 0)
		return hull_err_set(err, -r, "%s/%s", dir, name);
	return 0;
}

int ctr_record_write(const struct ctr *c, struct hull_err *err)
{
	cleanup_json json_t *o = json_pack(
		"{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:s, s:o, s:o}", "Version",
		CTR_RECORD_VERSION, "Id", c->id, "Name", c->name, "Created", c->created, "Image",
		c->image, "ImageName", c->image_name, "ImageID", c->image_id ? c->image_id : "",
		"Path", c->path ? c->path : "", "Args", strv_json(c->args), "RootfsMode",
		c->rootfs_mode, "Layers", strv_json(c->layers), "Backend", c->backend, "Config",
		ctr_record_config_json(&c->config), "HostConfig",
		ctr_record_host_config_json(&c->host));

	if (o && c->host.n_fields) {
		json_t *keys = json_array();

		for (size_t i = 0; i < c->host.n_fields; i++)
			(void)json_array_append_new(keys, json_string(c->host.fields[i].key));
		(void)json_object_set_new(o, "FieldKeys", keys);
	}
	if (o && c->host.has_security_opt_given)
		(void)json_object_set_new(o, "SecurityOptGiven",
					  strv_json(c->host.security_opt_given));
	return write_json(c->dir, "hull.json", o, err);
}

int ctr_state_write(const struct ctr *c, struct hull_err *err)
{
	const struct ctr_state *st = &c->state;
	cleanup_json json_t *o = json_pack(
		"{s:i, s:s, s:i, s:i, s:I, s:i, s:b, s:s, s:s, s:i}", "Version", CTR_RECORD_VERSION,
		"Status", ctr_status_name(st->status), "Pid", (int)st->pid, "MonitorPid",
		(int)st->monitor_pid, "StartTicks", (json_int_t)st->start_ticks, "ExitCode",
		st->exit_code, "OOMKilled", st->oom_killed,
		"StartedAt", st->started_at ? st->started_at : "", "FinishedAt",
		st->finished_at ? st->finished_at : "", "RestartCount", (int)st->restart_count);

	return write_json(c->dir, "state.json", o, err);
}
