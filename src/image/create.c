/* `hull import`: a root file system tarball becomes a one-layer image. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/signame.h"
#include "common/strv.h"
#include "common/timefmt.h"
#include "image/image.h"
#include "image/layer.h"
#include "image/transfer.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* CMD/ENTRYPOINT: a JSON array of strings, or a shell form run by /bin/sh -c. */
static json_t *command_form(const char *arg)
{
	json_t *v = json_loads(arg, 0, NULL);
	size_t i;
	json_t *e;

	if (v && json_is_array(v)) {
		bool ok = true;

		json_array_foreach(v, i, e)
			ok = ok && json_is_string(e);
		if (ok)
			return v;
	}
	json_decref(v);
	return json_pack("[s, s, s]", "/bin/sh", "-c", arg);
}

static void env_set(json_t *cfg, const char *kv)
{
	json_t *env = json_object_get(cfg, "Env");
	size_t klen = strcspn(kv, "=");
	size_t i;
	json_t *e;

	if (!env) {
		env = json_array();
		(void)json_object_set_new(cfg, "Env", env);
	}
	json_array_foreach(env, i, e) {
		const char *s = json_string_value(e);

		if (s && strncmp(s, kv, klen) == 0 && s[klen] == '=') {
			(void)json_array_set_new(env, i, json_string(kv));
			return;
		}
	}
	(void)json_array_append_new(env, json_string(kv));
}

/*
 * VOLUME, docker's two forms: a JSON array of strings (VOLUME ["/a", "/b"]) or paths split
 * at blanks (VOLUME /a /b). Each path is absolute; they add to the image's Volumes, as
 * repeated VOLUME instructions do. An argument that starts with '[' is JSON or an error
 * (not a path "[...").
 */
static int volume_change(json_t *cfg, const char *change, const char *arg, struct hull_err *err)
{
	cleanup_json json_t *paths = NULL;
	json_t *vols = json_object_get(cfg, "Volumes");
	json_error_t jerr;
	size_t i;
	json_t *e;

	if (arg[0] == '[') {
		paths = json_loads(arg, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_array(paths))
			return hull_err_setx(err, EINVAL, "--change '%s': VOLUME: not a JSON array "
					     "of strings (%s)", change,
					     paths ? "not an array" : jerr.text);
	} else {
		cleanup_free char *copy = xstrdup(arg);
		char *save = NULL;

		paths = json_array();
		for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
			(void)json_array_append_new(paths, json_string(t));
	}
	if (json_array_size(paths) == 0)
		return hull_err_setx(err, EINVAL, "--change '%s': VOLUME needs a path", change);
	json_array_foreach(paths, i, e)
		if (!json_is_string(e) || json_string_value(e)[0] != '/')
			return hull_err_setx(err, EINVAL, "--change '%s': VOLUME: every path must be "
					     "an absolute string", change);
	if (!json_is_object(vols)) {
		vols = json_object();
		(void)json_object_set_new(cfg, "Volumes", vols);
	}
	json_array_foreach(paths, i, e)
		(void)json_object_set_new(vols, json_string_value(e), json_object());
	return 0;
}

static int apply_change(json_t *cfg, const char *change, struct hull_err *err)
{
	size_t kl = strcspn(change, " \t");
	const char *arg = change + kl + strspn(change + kl, " \t");
	cleanup_free char *key = xstrndup(change, kl);

	for (char *k = key; *k; k++)
		if (*k >= 'a' && *k <= 'z')
			*k = (char)(*k - 'a' + 'A');
	if (!*arg)
		return hull_err_setx(err, EINVAL, "--change '%s': missing argument", change);
	if (strcmp(key, "CMD") == 0) {
		(void)json_object_set_new(cfg, "Cmd", command_form(arg));
	} else if (strcmp(key, "ENTRYPOINT") == 0) {
		(void)json_object_set_new(cfg, "Entrypoint", command_form(arg));
	} else if (strcmp(key, "ENV") == 0) {
		cleanup_free char *kv = NULL;

		if (strchr(arg, '='))
			kv = xstrdup(arg);
		else if (strpbrk(arg, " \t"))
			kv = xasprintf("%.*s=%s", (int)strcspn(arg, " \t"), arg,
				       arg + strcspn(arg, " \t") + strspn(arg + strcspn(arg, " \t"), " \t"));
		else
			return hull_err_setx(err, EINVAL, "--change '%s': ENV needs KEY=VALUE",
					     change);
		env_set(cfg, kv);
	} else if (strcmp(key, "WORKDIR") == 0) {
		if (arg[0] != '/')
			return hull_err_setx(err, EINVAL, "--change '%s': WORKDIR must be absolute",
					     change);
		(void)json_object_set_new(cfg, "WorkingDir", json_string(arg));
	} else if (strcmp(key, "USER") == 0) {
		(void)json_object_set_new(cfg, "User", json_string(arg));
	} else if (strcmp(key, "LABEL") == 0) {
		json_t *labels = json_object_get(cfg, "Labels");
		size_t k = strcspn(arg, "=");

		if (!arg[k])
			return hull_err_setx(err, EINVAL, "--change '%s': LABEL needs KEY=VALUE",
					     change);
		if (!labels) {
			labels = json_object();
			(void)json_object_set_new(cfg, "Labels", labels);
		}
		{
			cleanup_free char *lk = xstrndup(arg, k);

			(void)json_object_set_new(labels, lk, json_string(arg + k + 1));
		}
	} else if (strcmp(key, "STOPSIGNAL") == 0 && signal_parse(arg) < 0) {
		return hull_err_setx(err, EINVAL, "--change '%s': STOPSIGNAL: unknown signal %s",
				     change, arg);
	} else if (strcmp(key, "VOLUME") == 0) {
		return volume_change(cfg, change, arg, err);
	} else if (strcmp(key, "EXPOSE") == 0 || strcmp(key, "STOPSIGNAL") == 0) {
		(void)json_object_set_new(cfg, key[0] == 'E' ? "ExposedPorts" : "StopSignal",
					  key[0] == 'S' ? json_string(arg)
							: json_pack("{s:{}}", arg));
	} else {
		return hull_err_setx(err, EINVAL, "--change '%s': unsupported instruction %s",
				     change, key);
	}
	return 0;
}

static char *now_rfc3339(void)
{
	struct timespec ts;
	char buf[RFC3339_MAX] = "";

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	(void)rfc3339_format(&ts, buf, sizeof(buf)); /* the clock is in range */
	return xstrdup(buf);
}

static int import_rootfs(struct image_store *s, const char *path, const char *name,
			 char *const *changes, char *ret_id, struct hull_err *err)
{
	cleanup_close int fd = -1;
	cleanup_json json_t *cfg = NULL;
	cleanup_free char *norm = NULL;
	cleanup_free char *created = now_rfc3339();
	cleanup_free char *buf = NULL;
	cleanup_free char *what = NULL;
	char blob[DIGEST_STR_LEN + 1], diff_id[DIGEST_STR_LEN + 1], config[DIGEST_STR_LEN + 1];
	char mdigest[DIGEST_STR_LEN + 1];
	json_t *c;
	int r;

	if (name && !(norm = image_ref_normalize(name)))
		return hull_err_setx(err, EINVAL, "invalid image name '%s'", name);
	what = xasprintf("image %s", norm ? norm : path);
	c = json_pack("{s:[s]}", "Env", DEFAULT_PATH);
	for (size_t i = 0; changes && changes[i]; i++) {
		r = apply_change(c, changes[i], err);
		if (r < 0) {
			json_decref(c);
			return r;
		}
	}
	r = image_store_lock(s, true, err);
	if (r < 0) {
		json_decref(c);
		return r;
	}
	image_store_txn_begin(s);
	fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		json_decref(c);
		return hull_err_set(err, errno, "%s", path);
	}
	r = store_blob_put_fd(s, fd, NULL, blob, NULL, err);
	if (r < 0) {
		json_decref(c);
		return hull_err_prefix(err, "%s", path);
	}
	/* The diff_id is only known once the layer is unpacked: unpack into staging under
	 * a provisional name and verify against itself. */
	{
		cleanup_free char *tmpname = NULL;
		cleanup_free char *rel = NULL;
		cleanup_close int dfd = -1;
		cleanup_close int bfd = store_blob_open(s, blob, err);
		struct layer_limits lim = LAYER_LIMITS_DEFAULT;

		if (bfd < 0 || (r = image_store_mktemp(s, &tmpname, &dfd, err)) < 0) {
			json_decref(c);
			return bfd < 0 ? bfd : r;
		}
		r = layer_unpack(bfd, dfd, what, &lim, diff_id, err);
		if (r == 0 && !store_layer_exists(s, diff_id)) {
			rel = store_layer_relpath(diff_id);
			if (renameat(s->root_fd, tmpname, s->root_fd, rel) < 0)
				r = hull_err_set(err, errno, "%s: storing the layer", what);
			else
				image_store_txn_added(s, rel);
		}
		(void)rm_rf_at(s->root_fd, tmpname);
		if (r < 0) {
			json_decref(c);
			return r;
		}
	}
	cfg = json_pack("{s:s, s:s, s:s, s:o, s:{s:s, s:[s]}, s:[{s:s, s:s}]}", "created",
			created, "architecture", "amd64", "os", "linux", "config", c, "rootfs",
			"type", "layers", "diff_ids", diff_id, "history", "created", created,
			"created_by", "hull import");
	buf = hjson_dump(cfg, JSON_COMPACT);
	r = store_blob_put_buf(s, buf, strlen(buf), config, err);
	if (r < 0)
		return r;
	r = image_manifest_write(s, config, (char *[]){ blob, NULL }, mdigest, err);
	if (r < 0)
		return r;
	r = image_record(s, norm, mdigest, err);
	if (r < 0)
		return r;
	memcpy(ret_id, config, sizeof(config));
	return 0;
}

int image_import(struct image_store *s, const char *path, const char *name,
		 char *const *changes, char *ret_id, struct hull_err *err)
{
	int r = import_rootfs(s, path, name, changes, ret_id, err);

	return image_store_txn_end(s, r, err);
}
