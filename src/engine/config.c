#include "engine/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/mountinfo.h"
#include "common/path.h"
#include "common/strv.h"
#include "engine/cmdpath.h"
#include "engine/container.h"
#include "engine/security.h"
#include "engine/lifecycle.h"
#include "net/net.h"
#include "spec/spec.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static char **json_to_strv(json_t *a)
{
	char **v = NULL;
	size_t i;
	json_t *e;

	json_array_foreach(a, i, e)
		if (json_is_string(e))
			strv_push(&v, json_string_value(e));
	return v;
}

/* Set K=V in env, replacing an existing K. */
static void env_put(char ***env, const char *kv)
{
	size_t k = strcspn(kv, "=");

	for (size_t i = 0; *env && (*env)[i]; i++) {
		if (strncmp((*env)[i], kv, k) == 0 && (*env)[i][k] == '=') {
			free((*env)[i]);
			(*env)[i] = xstrdup(kv);
			return;
		}
	}
	strv_push(env, kv);
}

static const char *env_get(char *const *env, const char *key)
{
	size_t k = strlen(key);

	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], key, k) == 0 && env[i][k] == '=')
			return env[i] + k + 1;
	return NULL;
}

/* The process's arguments: docker's Entrypoint/Cmd rules. */
static int build_args(const struct run_opts *o, json_t *icfg, char ***ret, struct hull_err *err)
{
	char **args = NULL;

	if (o->entrypoint) {
		if (*o->entrypoint)
			strv_push(&args, o->entrypoint);
	} else {
		char **ep = json_to_strv(json_object_get(icfg, "Entrypoint"));

		for (size_t i = 0; ep && ep[i]; i++)
			strv_push(&args, ep[i]);
		strv_free(ep);
	}
	if (o->cmd && o->cmd[0]) {
		for (size_t i = 0; o->cmd[i]; i++)
			strv_push(&args, o->cmd[i]);
	} else if (!o->entrypoint) {
		char **cmd = json_to_strv(json_object_get(icfg, "Cmd"));

		for (size_t i = 0; cmd && cmd[i]; i++)
			strv_push(&args, cmd[i]);
		strv_free(cmd);
	}
	if (!args)
		return hull_err_setx(err, EINVAL, "no command specified: the image has no Cmd or "
				     "Entrypoint and none was given");
	*ret = args;
	return 0;
}

/*
 * Read the image's passwd or group file (at most 1 MiB) into *ret (NULL when there is none).
 * O_NONBLOCK and the regular-file check: a FIFO or a device there would block the caller
 * forever while it holds the store locks.
 */
static int db_read(int rootfs, const char *file, char **ret, struct hull_err *err)
{
	cleanup_close int fd = path_open_in_root(rootfs, file, O_RDONLY | O_NONBLOCK, 0, 0);
	cleanup_free char *buf = NULL;
	struct stat st;
	ssize_t n;

	*ret = NULL;
	if (fd == -ENOENT || fd == -ENOTDIR)
		return 0;
	if (fd < 0)
		return hull_err_set(err, -fd, "%s in the container", file);
	if (fstat(fd, &st) < 0)
		return hull_err_set(err, errno, "%s in the container", file);
	if (!S_ISREG(st.st_mode))
		return hull_err_setx(err, EINVAL, "%s in the container is not a regular file", file);
	buf = xmalloc(1 << 20);
	n = fd_read_all(fd, buf, (1 << 20) - 1);
	if (n < 0)
		return hull_err_set(err, (int)-n, "%s in the container", file);
	buf[n] = '\0';
	*ret = steal_ptr(&buf);
	return 0;
}

/* Field `field` of the line of a passwd/group text whose field 0 (or 2, by_id) is key. */
static char *db_lookup(const char *db, const char *key, bool by_id, int field)
{
	cleanup_free char *buf = db ? xstrdup(db) : NULL;
	char *save = NULL;

	if (!buf)
		return NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[8] = { 0 };
		int nf = 0;
		char *p = line;

		while (nf < 8) {
			f[nf++] = p;
			p = strchr(p, ':');
			if (!p)
				break;
			*p++ = '\0';
		}
		if (nf < 3 || strcmp(f[by_id ? 2 : 0], key) != 0)
			continue;
		return field < nf ? xstrdup(f[field]) : NULL;
	}
	return NULL;
}

static bool is_number(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Supplementary groups: the group file's entries that list the user. */
static json_t *extra_gids(const char *db, const char *user, unsigned gid)
{
	cleanup_free char *buf = db ? xstrdup(db) : NULL;
	json_t *a = json_array();
	char *save = NULL;

	if (!buf || !user)
		return a;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[4] = { 0 };
		int nf = 0;
		char *p = line, *s2 = NULL;

		while (nf < 4) {
			f[nf++] = p;
			p = strchr(p, ':');
			if (!p)
				break;
			*p++ = '\0';
		}
		if (nf < 4 || !is_number(f[2]) || strtoul(f[2], NULL, 10) == gid)
			continue;
		for (char *m = strtok_r(f[3], ",", &s2); m; m = strtok_r(NULL, ",", &s2))
			if (strcmp(m, user) == 0)
				(void)json_array_append_new(a, json_integer(strtol(f[2], NULL, 10)));
	}
	return a;
}

int ctr_user_resolve(const char *spec, int rootfs, json_t **ret_user, char **ret_home,
			struct hull_err *err)
{
	cleanup_free char *u = xstrdup(spec && *spec ? spec : "0");
	cleanup_free char *name = NULL;
	cleanup_free char *uid_s = NULL;
	cleanup_free char *gid_s = NULL;
	cleanup_free char *passwd = NULL;
	cleanup_free char *groups = NULL;
	char *group = strchr(u, ':');
	unsigned long uid, gid = 0;
	int r;

	if (group)
		*group++ = '\0';
	r = db_read(rootfs, "/etc/passwd", &passwd, err);
	if (r == 0)
		r = db_read(rootfs, "/etc/group", &groups, err);
	/* numeric ids need neither file: only the home directory and groups are looked up */
	if (r < 0 && !(is_number(u) && (!group || is_number(group))))
		return r;
	if (is_number(u)) {
		uid = strtoul(u, NULL, 10);
		name = db_lookup(passwd, u, true, 0);
	} else {
		uid_s = db_lookup(passwd, u, false, 2);
		if (!uid_s || !is_number(uid_s))
			return hull_err_setx(err, ENOENT, "unable to find user %s: no matching "
					     "entries in passwd file", u);
		uid = strtoul(uid_s, NULL, 10);
		name = xstrdup(u);
	}
	if (uid > 0xfffffffeUL)
		return hull_err_setx(err, EINVAL, "user %s: uid out of range", u);
	if (name) {
		gid_s = db_lookup(passwd, name, false, 3);
		*ret_home = db_lookup(passwd, name, false, 5);
		if (gid_s && is_number(gid_s))
			gid = strtoul(gid_s, NULL, 10);
	}
	if (group && is_number(group)) {
		gid = strtoul(group, NULL, 10);
	} else if (group) {
		cleanup_free char *g = db_lookup(groups, group, false, 2);

		if (!g || !is_number(g))
			return hull_err_setx(err, ENOENT, "unable to find group %s: no matching "
					     "entries in group file", group);
		gid = strtoul(g, NULL, 10);
	}
	*ret_user = json_pack("{s:I, s:I, s:o}", "uid", (json_int_t)uid, "gid", (json_int_t)gid,
			      "additionalGids", extra_gids(groups, name, (unsigned)gid));
	return 0;
}

int ctr_group_resolve(int rootfs, const char *group, uint32_t *ret_gid, struct hull_err *err)
{
	cleanup_free char *groups = NULL;
	cleanup_free char *g = NULL;
	int r;

	if (is_number(group)) {
		unsigned long v = strtoul(group, NULL, 10);

		if (strlen(group) > 10 || v > 0xfffffffeUL)
			return hull_err_setx(err, EINVAL, "gid out of range (0 to 4294967294)");
		*ret_gid = (uint32_t)v;
		return 0;
	}
	if ((r = db_read(rootfs, "/etc/group", &groups, err)) < 0)
		return r;
	g = db_lookup(groups, group, false, 2);
	if (!g || !is_number(g) || strlen(g) > 10 || strtoul(g, NULL, 10) > 0xfffffffeUL)
		return hull_err_setx(err, ENOENT, "unable to find group %s: no matching entries "
				     "in group file", group);
	*ret_gid = (uint32_t)strtoul(g, NULL, 10);
	return 0;
}

static int build_env(const struct run_opts *o, json_t *icfg, const char *hostname,
		     const char *home, char ***ret, struct hull_err *err)
{
	char **env = NULL;
	char **img = json_to_strv(json_object_get(icfg, "Env"));

	env_put(&env, "PATH=" DEFAULT_PATH);
	for (size_t i = 0; img && img[i]; i++)
		env_put(&env, img[i]);
	strv_free(img);
	{
		cleanup_free char *h = xasprintf("HOSTNAME=%s", hostname);

		env_put(&env, h);
	}
	if (o->tty)
		env_put(&env, "TERM=xterm");
	for (size_t i = 0; o->env && o->env[i]; i++) {
		if (o->env[i][0] == '=' || !o->env[i][0]) {
			strv_free(env);
			return hull_err_setx(err, EINVAL, "invalid environment variable '%s'",
					     o->env[i]);
		}
		/* a bare NAME: the CLI resolved it from its environment, or dropped it */
		if (strchr(o->env[i], '='))
			env_put(&env, o->env[i]);
	}
	if (!env_get(env, "HOME")) {
		cleanup_free char *h = xasprintf("HOME=%s", home && *home ? home : "/root");

		env_put(&env, h);
	}
	*ret = env;
	return 0;
}

/* -v, --mount, --tmpfs, --volumes-from and the image's volumes, resolved by the engine
 * (engine_mounts_resolve in volume.c) */
/* opts (comma separated) has a or b */
static bool has_opt(const char *opts, const char *a, const char *b)
{
	for (const char *o = opts; o && *o;) {
		size_t n = strcspn(o, ",");

		if ((strlen(a) == n && strncmp(o, a, n) == 0) ||
		    (strlen(b) == n && strncmp(o, b, n) == 0))
			return true;
		o += n + (o[n] == ',');
	}
	return false;
}

/*
 * docker's rule for a bind with shared or slave propagation: its source must sit on a shared
 * mount (shared) or a shared or slave one (slave), else nothing would propagate; a shared
 * bind makes the container's root shared too, so that mounts made under it in the container
 * reach the host (with CAP_SYS_ADMIN in the container).
 */
static int bind_propagation(const struct run_mount *m, struct oci_spec *s, struct hull_err *err)
{
	bool shared = has_opt(m->opts, "rshared", "shared");
	bool slave = has_opt(m->opts, "rslave", "slave");
	cleanup_free char *real = NULL;
	struct mount_prop mp;
	int r;

	if (strcmp(m->type, "bind") != 0 || (!shared && !slave))
		return 0;
	real = realpath(m->src, NULL);
	if (!real)
		return hull_err_set(err, errno, "bind mount %s", m->src);
	if ((r = mountinfo_find_self(real, &mp)) < 0)
		return hull_err_set(err, -r, "bind mount %s: /proc/self/mountinfo", m->src);
	if (shared && !mp.shared)
		return hull_err_setx(err, EINVAL, "bind mount %s (%s): path %s is mounted on %s "
				     "but it is not a shared mount", m->src, "rshared", real,
				     mp.mount_point);
	if (slave && !mp.shared && !mp.slave)
		return hull_err_setx(err, EINVAL, "bind mount %s (%s): path %s is mounted on %s "
				     "but it is not a shared or slave mount", m->src, "rslave", real,
				     mp.mount_point);
	if (shared)
		s->rootfs_propagation = MS_SHARED;
	return 0;
}

static int add_volumes(const struct run_opts *o, struct oci_spec *s, struct hull_err *err)
{
	int r;

	for (size_t i = 0; i < o->n_mounts; i++) {
		if ((r = bind_propagation(&o->mounts[i], s, err)) < 0)
			return r;
		spec_add_mount(s, o->mounts[i].dst, o->mounts[i].type, o->mounts[i].src,
			       o->mounts[i].opts);
	}
	return 0;
}

/* --init: the host's catatonit, read-only in the container (podman's /run/podman-init) */
static int add_init(const struct run_opts *o, struct oci_spec *s, struct hull_err *err)
{
	if (!o->init)
		return 0;
	if (access(CTR_INIT_HOST_PATH, X_OK) < 0)
		return hull_err_set(err, errno, "--init: %s (Debian's catatonit)",
				    CTR_INIT_HOST_PATH);
	spec_add_mount(s, CTR_INIT_PATH, "bind", CTR_INIT_HOST_PATH, "rbind,ro");
	return 0;
}

/* --init: the process runs as "CTR_INIT_PATH -- ARGS..."; after the command check, which
 * is about the command */
static void args_add_init(const struct run_opts *o, json_t *doc)
{
	json_t *args = json_object_get(json_object_get(doc, "process"), "args");

	if (!o->init || !json_is_array(args))
		return;
	(void)json_array_insert_new(args, 0, json_string("--"));
	(void)json_array_insert_new(args, 0, json_string(CTR_INIT_PATH));
}

/* A capability the runtime can grant: in our own bounding set (root here lacks some). */
static bool cap_grantable(const char *name)
{
	int n = spec_cap_from_name(name);

	return n >= 0 && prctl(PR_CAPBSET_READ, (unsigned long)n, 0, 0, 0) == 1;
}

/* "net_admin", "NET_ADMIN" and "cap_net_admin" all name CAP_NET_ADMIN (docker's forms). */
static char *cap_canonical_name(const char *flag)
{
	char *n = strncasecmp(flag, "CAP_", 4) == 0 ? xstrdup(flag) : xasprintf("CAP_%s", flag);

	for (char *p = n; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	return n;
}

static int build_caps(const struct run_opts *o, uint64_t *ret, struct hull_err *err)
{
	uint64_t caps = 0;

	if (o->privileged) {
		for (int i = 0; i <= spec_cap_last(); i++)
			if (cap_grantable(spec_cap_name(i)))
				caps |= 1ULL << i;
	} else {
		caps = spec_caps_from_names(spec_default_caps);
	}
	for (size_t i = 0; o->cap_drop && o->cap_drop[i]; i++) {
		cleanup_free char *n = cap_canonical_name(o->cap_drop[i]);
		int c = spec_cap_from_name(n);

		if (strcmp(n, "CAP_ALL") == 0) {
			caps = 0;
			continue;
		}
		if (c < 0)
			return hull_err_setx(err, EINVAL, "--cap-drop %s: unknown capability",
					     o->cap_drop[i]);
		caps &= ~(1ULL << c);
	}
	for (size_t i = 0; o->cap_add && o->cap_add[i]; i++) {
		cleanup_free char *n = cap_canonical_name(o->cap_add[i]);
		int c = spec_cap_from_name(n);

		if (strcmp(n, "CAP_ALL") == 0) {
			for (int k = 0; k <= spec_cap_last(); k++)
				if (cap_grantable(spec_cap_name(k)))
					caps |= 1ULL << k;
			continue;
		}
		if (c < 0)
			return hull_err_setx(err, EINVAL, "--cap-add %s: unknown capability",
					     o->cap_add[i]);
		caps |= 1ULL << c;
	}
	*ret = caps;
	return 0;
}

int64_t run_opts_memory_swap(const struct run_opts *o)
{
	if (o->memory <= 0 || o->memory_swap < 0)
		return 0;
	return o->memory_swap > 0 ? o->memory_swap : 2 * o->memory;
}

/*
 * linux.resources as podman writes them: memory.limit with swap (memory + swap: twice the
 * limit unless --memory-swap says otherwise, none when it is -1), cpu.quota/period with a
 * 100 ms period, cpu.shares, cpu.cpus, pids.limit.
 */
static void build_resources(const struct run_opts *o, struct oci_resources *r)
{
	if (o->memory > 0) {
		r->has_mem_limit = true;
		r->mem_limit = o->memory;
		if (run_opts_memory_swap(o) > 0) {
			r->has_mem_swap = true;
			r->mem_swap = run_opts_memory_swap(o);
		}
	}
	if (o->cpu_shares > 0) {
		r->has_cpu_shares = true;
		r->cpu_shares = o->cpu_shares;
	}
	if (o->cpus > 0) {
		r->has_cpu_quota = r->has_cpu_period = true;
		r->cpu_quota = (int64_t)(o->cpus * 100000.0);
		r->cpu_period = 100000;
	}
	if (o->cpuset_cpus)
		r->cpus = xstrdup(o->cpuset_cpus);
	if (o->pids_limit > 0) {
		r->has_pids = true;
		r->pids_limit = o->pids_limit;
	}
}

/* /etc/hostname and /etc/hosts of the container, bind-mounted from its directory. */
static void add_etc_files(const char *dir, const char *hostname, enum net_mode net,
			  int rootfs, struct oci_spec *s)
{
	cleanup_free char *hn = xasprintf("%s/hostname", dir);
	cleanup_free char *hosts = xasprintf("%s/hosts", dir);
	cleanup_free char *hn_data = xasprintf("%s\n", hostname);
	cleanup_free char *hosts_data = xasprintf("127.0.0.1\tlocalhost\n::1\tlocalhost "
						  "ip6-localhost ip6-loopback\n127.0.1.1\t%s\n",
						  hostname);
	struct hull_err e2;
	int fd;

	fd = path_mkdirs_in_root(rootfs, "/etc", 0755);
	if (fd >= 0)
		(void)close(fd);
	if (ctr_write_file(dir, "hostname", hn_data, strlen(hn_data), 0644, &e2) == 0)
		spec_add_mount(s, "/etc/hostname", "bind", hn, "rbind,ro");
	if (ctr_write_file(dir, "hosts", hosts_data, strlen(hosts_data), 0644, &e2) == 0)
		spec_add_mount(s, "/etc/hosts", "bind", hosts, "rbind,ro");
	if (net == NET_MODE_HOST && access("/etc/resolv.conf", R_OK) == 0)
		spec_add_mount(s, "/etc/resolv.conf", "bind", "/etc/resolv.conf", "rbind,ro");
	/* a bridge network's resolv.conf: written by engine/network.c before it starts */
	if (net == NET_MODE_BRIDGE) {
		cleanup_free char *rc = xasprintf("%s/resolv.conf", dir);

		spec_add_mount(s, "/etc/resolv.conf", "bind", rc, "rbind,ro");
	}
}

/* An id the kernel takes: 0 to 4294967294 ((uid_t)-1 means "no change"). */
static bool id_ok(json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 0 &&
	       json_integer_value(v) < (json_int_t)UINT32_MAX;
}

/* process.user from ctr_user_resolve's object; ids that do not fit are refused, not cut. */
static int set_user(struct oci_process *p, const char *spec, json_t *user, struct hull_err *err)
{
	json_t *gids = json_object_get(user, "additionalGids"), *g;
	size_t i;

	if (!id_ok(json_object_get(user, "uid")) || !id_ok(json_object_get(user, "gid")))
		return hull_err_setx(err, EINVAL, "user %s: uid or gid out of range (0 to "
				     "4294967294)", spec && *spec ? spec : "0");
	p->uid = (uint32_t)json_integer_value(json_object_get(user, "uid"));
	p->gid = (uint32_t)json_integer_value(json_object_get(user, "gid"));
	p->additional_gids = xcalloc(json_array_size(gids) + 1, sizeof(uint32_t));
	json_array_foreach(gids, i, g)
		if (id_ok(g))
			p->additional_gids[p->n_additional_gids++] =
				(uint32_t)json_integer_value(g);
	return 0;
}

/*
 * The config as JSON, checked by the model's parser: what the engine writes is exactly what
 * hull-oci will accept (every rule is the parser's).
 */
static int spec_finish(const struct oci_spec *s, const char *dir, json_t **ret,
		       struct hull_err *err)
{
	cleanup_free char *text = spec_dump(s);
	struct oci_spec *check = NULL;
	int r;

	if ((r = spec_parse(text, strlen(text), "config.json", dir, &check, err)) < 0)
		return r;
	spec_free(check);
	*ret = spec_to_json(s);
	return 0;
}

/* The process, mounts and namespaces of the container (the model's defaults, then o). */
static int build_spec(const struct run_opts *o, json_t *icfg, int rootfs_fd, const char *dir,
		      const char *hostname, enum net_mode net, struct oci_spec **ret,
		      struct hull_err *err)
{
	struct oci_defaults d = { .net_ns = net_mode_has_netns(net), .privileged = o->privileged,
				  .shm_size = o->shm_size };
	cleanup_oci_spec struct oci_spec *s = spec_new_default(&d);
	const char *user = o->user ? o->user : json_string_value(json_object_get(icfg, "User"));
	cleanup_free char *home = NULL;
	json_t *juser = NULL;
	uint64_t caps = 0;
	int r;

	/* the namespace engine/network.c made and set up (bind-mounted under the store) */
	if (d.net_ns && o->netns_path)
		s->ns[OCI_NS_NET].path = xstrdup(o->netns_path);
	if ((r = build_args(o, icfg, &s->process.args, err)) < 0 ||
	    (r = ctr_user_resolve(user, rootfs_fd, &juser, &home, err)) < 0)
		return r;
	r = set_user(&s->process, user, juser, err);
	json_decref(juser);
	if (r < 0)
		return r;
	strv_free(s->process.env);
	s->process.env = NULL;
	if ((r = build_env(o, icfg, hostname, home, &s->process.env, err)) < 0 ||
	    (r = build_caps(o, &caps, err)) < 0)
		return r;
	s->process.caps[OCI_CAP_BOUNDING] = s->process.caps[OCI_CAP_EFFECTIVE] =
		s->process.caps[OCI_CAP_PERMITTED] = caps;
	s->process.terminal = o->tty;
	s->root_readonly = o->read_only;
	s->hostname = xstrdup(hostname);
	s->has_resources = true;
	build_resources(o, &s->resources);
	for (size_t i = 0; i < o->n_spec_sets; i++)
		spec_field_apply(s, &o->spec_sets[i]);
	/* after the capabilities: the seccomp profile depends on them */
	if ((r = engine_security_build(o, rootfs_fd, s, err)) < 0)
		return r;
	add_etc_files(dir, hostname, net, rootfs_fd, s);
	if ((r = add_volumes(o, s, err)) < 0 || (r = add_init(o, s, err)) < 0)
		return r;
	*ret = steal_ptr(&s);
	return 0;
}

int ctr_config_build(const struct run_opts *o, json_t *img, int rootfs_fd, const char *dir,
		     const char *id, json_t **ret, int *ret_exit, struct hull_err *err)
{
	json_t *icfg = json_object_get(img, "config");
	cleanup_oci_spec struct oci_spec *s = NULL;
	cleanup_free char *hostname = xstrndup(id, 12);
	const char *cwd = o->workdir ? o->workdir
				     : json_string_value(json_object_get(icfg, "WorkingDir"));
	json_t *doc = NULL;
	enum net_mode net;
	int r;

	*ret_exit = 125;
	if (o->hostname) {
		free(hostname);
		hostname = xstrdup(o->hostname);
	}
	if (!cwd || !*cwd)
		cwd = "/";
	if (cwd[0] != '/')
		return hull_err_setx(err, EINVAL, "working directory '%s' is not absolute", cwd);
	if ((r = net_mode_parse(o->network, &net, err)) < 0 ||
	    (r = build_spec(o, icfg, rootfs_fd, dir, hostname, net, &s, err)) < 0)
		return r;
	free(s->process.cwd);
	s->process.cwd = xstrdup(cwd);
	{
		/* docker creates a missing working directory */
		int fd = path_mkdirs_in_root(rootfs_fd, cwd, 0755);

		if (fd >= 0)
			(void)close(fd);
	}
	if ((r = spec_finish(s, dir, &doc, err)) < 0)
		return r;
	/* after the mounts: the command may come from a volume */
	r = ctr_command_check(rootfs_fd, json_object_get(doc, "mounts"), cwd, s->process.args[0],
			      env_get(s->process.env, "PATH"), ret_exit, err);
	if (r < 0) {
		json_decref(doc);
		return r;
	}
	args_add_init(o, doc);
	*ret = doc;
	*ret_exit = 0;
	return 0;
}
