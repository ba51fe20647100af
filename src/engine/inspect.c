#include "engine/inspect.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/strv.h"
#include "engine/network.h"
#include "engine/volume.h"

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();

	for (size_t i = 0; v && v[i]; i++)
		(void)json_array_append_new(a, json_string(v[i]));
	return a;
}

/* docker's Config (hull.json's; a leftover has only its empty command) */
static json_t *config_json(const struct ctr *c)
{
	if (c->leftover)
		return json_pack("{s:o}", "Cmd", strv_json(c->config.cmd));
	return ctr_record_config_json(&c->config);
}

static json_t *state_json(struct ctr *c)
{
	enum ctr_status st = ctr_status_live(c);

	/* docker's Restarting: exited, its monitor waiting to start it again (--restart) */
	bool restarting = st == CTR_EXITED && c->state.monitor_pid > 0 &&
			  kill(c->state.monitor_pid, 0) == 0;

	return json_pack("{s:s, s:b, s:b, s:b, s:b, s:b, s:I, s:I, s:s, s:s}", "Status",
			 ctr_status_name(st), "Running", st == CTR_RUNNING, "Paused", false,
			 "Restarting", restarting, "OOMKilled", c->state.oom_killed, "Dead", false, "Pid",
			 (json_int_t)(st == CTR_RUNNING ? c->state.pid : 0), "ExitCode",
			 (json_int_t)c->state.exit_code, "StartedAt", c->state.started_at,
			 "FinishedAt", c->state.finished_at);
}

/* docker's Mounts, from the container's mounts.json (volumes, binds, --mount/--tmpfs
 * tmpfs); none when the container has no such file. */
static int mounts_json(const struct ctr *c, json_t **ret, struct hull_err *err)
{
	json_t *m = NULL, *e;
	size_t i;
	int r;

	*ret = json_array();
	if ((r = engine_mounts_read(c->dir, &m, err)) < 0)
		return r;
	json_array_foreach(m, i, e) {
		const char *type = json_string_value(json_object_get(e, "Type"));
		const char *src = json_string_value(json_object_get(e, "Source"));
		const char *dst = json_string_value(json_object_get(e, "Destination"));
		const char *prop = json_string_value(json_object_get(e, "Propagation"));
		bool volume = type && strcmp(type, "volume") == 0;
		json_t *o;

		if (!type || !dst) {
			r = hull_err_setx(err, EINVAL, "%s/mounts.json: entry %zu: no Type or "
					  "Destination", c->dir, i);
			break;
		}
		o = json_pack("{s:s, s:s, s:s}", "Type", type, "Source", src ? src : "",
			      "Destination", dst);
		if (volume) {
			(void)json_object_set(o, "Name", json_object_get(e, "Name"));
			(void)json_object_set_new(o, "Driver", json_string("local"));
		}
		(void)json_object_set_new(o, "Mode", json_string(""));
		(void)json_object_set_new(o, "RW", json_boolean(json_is_true(json_object_get(e, "RW"))));
		(void)json_object_set_new(o, "Propagation", json_string(
			strcmp(type, "bind") == 0 ? (prop ? prop : "rprivate") : ""));
		(void)json_array_append_new(*ret, o);
	}
	json_decref(m);
	return r;
}

/* A microVM's start (docs/engine.md "Fast start"): "restored", "cold" or "cold+snapshot",
 * as its shim recorded it in vm-start. */
static void vm_start_json(const struct ctr *c, json_t *o)
{
	cleanup_free char *p = xasprintf("%s/vm-start", c->dir);
	cleanup_free char *buf = NULL;

	if (fd_read_file_at(AT_FDCWD, p, 1024, &buf, NULL) < 0)
		return;
	buf[strcspn(buf, "\n")] = '\0';
	(void)json_object_set_new(o, "Start", json_string(buf));
}

json_t *engine_inspect_container(struct ctr *c, struct hull_err *err)
{
	json_t *mounts = NULL;

	if (mounts_json(c, &mounts, err) < 0) {
		json_decref(mounts);
		return NULL;
	}

	cleanup_free char *name = xasprintf("/%s", c->name);
	cleanup_free char *lp = xasprintf("%s/ctr.log", c->dir);
	cleanup_free char *rp = xasprintf("%s/rootfs", c->dir);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "Id", c->id, "Name", name, "Created",
			      c->created, "Image", c->image_id ? c->image_id : c->image);

	if (!c->leftover) {
		(void)json_object_set_new(o, "ImageID", json_string(c->image_id ? c->image_id : ""));
		(void)json_object_set_new(o, "Path", json_string(c->path ? c->path : ""));
		(void)json_object_set_new(o, "Args", strv_json(c->args));
		(void)json_object_set_new(o, "RootfsMode", json_string(c->rootfs_mode));
		/* the kind, only for a microVM (hull run --vm): a container's inspect stays docker's */
		if (c->backend && strcmp(c->backend, "oci") != 0)
			(void)json_object_set_new(o, "Backend", json_string(c->backend));
		vm_start_json(c, o);
		(void)json_object_set_new(o, "RestartCount",
					  json_integer((json_int_t)c->state.restart_count));
	}
	(void)json_object_set_new(o, "Config", config_json(c));
	if (!c->leftover)
		(void)json_object_set_new(o, "HostConfig", ctr_record_host_config_shown(&c->host));
	(void)json_object_set_new(o, "State", state_json(c));
	(void)json_object_set_new(o, "LogPath", json_string(lp));
	(void)json_object_set_new(o, "GraphDriver",
				  json_pack("{s:s, s:{s:s}}", "Name",
					    *c->rootfs_mode ? c->rootfs_mode : "overlay", "Data",
					    "MergedDir", rp));
	(void)json_object_set_new(o, "Mounts", mounts);
	(void)json_object_set_new(o, "NetworkSettings", engine_net_settings(c));
	return o;
}

json_t *engine_inspect_image(struct image_store *s, const struct image_info *img,
			     struct hull_err *err)
{
	json_t *cfg = NULL, *tags = json_array();
	cleanup_strv char **ids = NULL;
	struct image_list l = { 0 };
	json_t *o;

	if (image_config(s, img, &cfg, &ids, err) < 0) {
		json_decref(tags);
		return NULL;
	}
	if (image_list(s, &l, err) == 0) {
		for (size_t i = 0; i < l.n; i++)
			if (l.v[i].name && strcmp(l.v[i].config, img->config) == 0)
				(void)json_array_append_new(tags, json_string(l.v[i].name));
		image_list_free(&l);
	}
	o = json_pack("{s:s, s:o, s:s, s:s, s:I, s:O, s:O, s:O, s:O}", "Id", img->config,
		      "RepoTags", tags, "Digest", img->manifest, "Created",
		      img->created ? img->created : "", "Size", (json_int_t)img->size, "Config",
		      json_object_get(cfg, "config") ? json_object_get(cfg, "config")
						     : json_null(),
		      "RootFS", json_object_get(cfg, "rootfs"), "Architecture",
		      json_object_get(cfg, "architecture") ? json_object_get(cfg, "architecture")
							   : json_null(),
		      "Os", json_object_get(cfg, "os") ? json_object_get(cfg, "os") : json_null());
	/* as docker: Variant only when the image has one ("v8" of arm64) */
	if (o && json_is_string(json_object_get(cfg, "variant")))
		(void)json_object_set(o, "Variant", json_object_get(cfg, "variant"));
	json_decref(cfg);
	return o;
}

static json_t *lookup_path(json_t *v, const char *path, size_t len)
{
	cleanup_free char *p = xstrndup(path, len);
	char *save = NULL;

	if (strcmp(p, ".") == 0)
		return v;
	for (char *k = strtok_r(p, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
		v = json_object_get(v, k);
	return v;
}

static void append(char **out, size_t *len, const char *s, size_t n)
{
	*out = xrealloc(*out, *len + n + 1);
	memcpy(*out + *len, s, n);
	*len += n;
	(*out)[*len] = '\0';
}

char *engine_format(const char *tmpl, json_t *v, struct hull_err *err)
{
	char *out = xstrdup("");
	size_t len = 0;
	const char *p = tmpl;

	while (*p) {
		const char *open = strstr(p, "{{");
		const char *close;
		const char *expr;
		bool as_json = false;
		size_t elen;
		json_t *val;

		if (!open) {
			append(&out, &len, p, strlen(p));
			break;
		}
		append(&out, &len, p, (size_t)(open - p));
		close = strstr(open, "}}");
		if (!close) {
			free(out);
			(void)hull_err_setx(err, EINVAL, "--format: unterminated '{{'");
			return NULL;
		}
		expr = open + 2;
		while (*expr == ' ')
			expr++;
		if (strncmp(expr, "json ", 5) == 0) {
			as_json = true;
			expr += 5;
			while (*expr == ' ')
				expr++;
		}
		elen = (size_t)(close - expr);
		while (elen && expr[elen - 1] == ' ')
			elen--;
		if (elen == 0 || expr[0] != '.') {
			free(out);
			(void)hull_err_setx(err, EINVAL, "--format: unsupported expression '%.*s'",
					    (int)(close - open - 2), open + 2);
			return NULL;
		}
		val = lookup_path(v, expr, elen);
		if (!val) {
			append(&out, &len, as_json ? "null" : "<no value>",
			       strlen(as_json ? "null" : "<no value>"));
		} else if (json_is_string(val) && !as_json) {
			append(&out, &len, json_string_value(val), json_string_length(val));
		} else {
			cleanup_free char *d = hjson_dump(val, JSON_COMPACT | JSON_ENCODE_ANY);

			append(&out, &len, d, strlen(d));
		}
		p = close + 2;
	}
	return out;
}
