#include "engine/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/path.h"
#include "common/strv.h"
#include "engine/cmdpath.h"
#include "engine/container.h"
#include "net/net.h"
#include "oci/spec.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* docker's default capability set */
static const char *const default_caps[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
};

static const char *const masked_paths[] = {
	"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap",
};

static const char *const readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static json_t *strv_to_json(char *const *v)
{
	json_t *a = json_array();

	for (size_t i = 0; v && v[i]; i++)
		(void)json_array_append_new(a, json_string(v[i]));
	return a;
}

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

static json_t *mnt(const char *dst, const char *type, const char *src, const char *opts)
{
	json_t *m = json_pack("{s:s, s:s, s:s}", "destination", dst, "type", type, "source", src);
	cleanup_free char *copy = xstrdup(opts);
	json_t *o = json_array();
	char *save = NULL;

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		(void)json_array_append_new(o, json_string(t));
	(void)json_object_set_new(m, "options", o);
	return m;
}

/* -v, --mount, --tmpfs, --volumes-from and the image's volumes, resolved by the engine
 * (engine_mounts_resolve in volume.c) */
static int add_volumes(const struct run_opts *o, json_t *mounts, struct hull_err *err)
{
	(void)err;
	for (size_t i = 0; i < o->n_mounts; i++)
		(void)json_array_append_new(mounts, mnt(o->mounts[i].dst, o->mounts[i].type,
							o->mounts[i].src, o->mounts[i].opts));
	return 0;
}

/* A capability the runtime can grant: in our own bounding set (root here lacks some). */
static bool cap_grantable(const char *name)
{
	int n = oci_cap_from_name(name);

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

static int build_caps(const struct run_opts *o, json_t **ret, struct hull_err *err)
{
	char **caps = NULL;
	json_t *a;

	if (o->privileged) {
		for (int i = 0; i <= oci_cap_last(); i++)
			if (cap_grantable(oci_cap_name(i)))
				strv_push(&caps, oci_cap_name(i));
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(default_caps); i++)
			strv_push(&caps, default_caps[i]);
	}
	for (size_t i = 0; o->cap_drop && o->cap_drop[i]; i++) {
		cleanup_free char *n = cap_canonical_name(o->cap_drop[i]);

		if (strcmp(n, "CAP_ALL") == 0) {
			strv_free(caps);
			caps = NULL;
			continue;
		}
		if (oci_cap_from_name(n) < 0) {
			strv_free(caps);
			return hull_err_setx(err, EINVAL, "--cap-drop %s: unknown capability",
					     o->cap_drop[i]);
		}
		for (int k; (k = strv_find(caps, n)) >= 0;) {
			free(caps[k]);
			memmove(caps + k, caps + k + 1, (strv_length(caps) - (size_t)k) * sizeof(*caps));
		}
	}
	for (size_t i = 0; o->cap_add && o->cap_add[i]; i++) {
		cleanup_free char *n = cap_canonical_name(o->cap_add[i]);

		if (strcmp(n, "CAP_ALL") == 0) {
			for (int k = 0; k <= oci_cap_last(); k++)
				if (cap_grantable(oci_cap_name(k)) &&
				    strv_find(caps, oci_cap_name(k)) < 0)
					strv_push(&caps, oci_cap_name(k));
			continue;
		}
		if (oci_cap_from_name(n) < 0) {
			strv_free(caps);
			return hull_err_setx(err, EINVAL, "--cap-add %s: unknown capability",
					     o->cap_add[i]);
		}
		if (strv_find(caps, n) < 0)
			strv_push(&caps, n);
	}
	a = strv_to_json(caps);
	strv_free(caps);
	*ret = json_pack("{s:O, s:O, s:O}", "bounding", a, "effective", a, "permitted", a);
	json_decref(a);
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
static json_t *build_resources(const struct run_opts *o)
{
	json_t *r = json_object();
	json_t *cpu = json_object();

	if (o->memory > 0) {
		json_t *m = json_pack("{s:I}", "limit", (json_int_t)o->memory);

		if (run_opts_memory_swap(o) > 0)
			(void)json_object_set_new(m, "swap", json_integer(run_opts_memory_swap(o)));
		(void)json_object_set_new(r, "memory", m);
	}
	if (o->cpu_shares > 0)
		(void)json_object_set_new(cpu, "shares", json_integer((json_int_t)o->cpu_shares));
	if (o->cpus > 0) {
		(void)json_object_set_new(cpu, "quota", json_integer((json_int_t)(o->cpus * 100000.0)));
		(void)json_object_set_new(cpu, "period", json_integer(100000));
	}
	if (o->cpuset_cpus)
		(void)json_object_set_new(cpu, "cpus", json_string(o->cpuset_cpus));
	if (json_object_size(cpu) > 0)
		(void)json_object_set(r, "cpu", cpu);
	json_decref(cpu);
	if (o->pids_limit > 0)
		(void)json_object_set_new(r, "pids",
					  json_pack("{s:I}", "limit", (json_int_t)o->pids_limit));
	return r;
}

/* /etc/hostname and /etc/hosts of the container, bind-mounted from its directory. */
static void add_etc_files(const char *dir, const char *hostname, enum net_mode net,
			  int rootfs, json_t *mounts)
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
		(void)json_array_append_new(mounts, mnt("/etc/hostname", "bind", hn, "rbind,ro"));
	if (ctr_write_file(dir, "hosts", hosts_data, strlen(hosts_data), 0644, &e2) == 0)
		(void)json_array_append_new(mounts, mnt("/etc/hosts", "bind", hosts, "rbind,ro"));
	if (net == NET_MODE_HOST && access("/etc/resolv.conf", R_OK) == 0)
		(void)json_array_append_new(mounts, mnt("/etc/resolv.conf", "bind",
							"/etc/resolv.conf", "rbind,ro"));
	/* a bridge network's resolv.conf: written by engine/network.c before it starts */
	if (net == NET_MODE_BRIDGE) {
		cleanup_free char *rc = xasprintf("%s/resolv.conf", dir);

		(void)json_array_append_new(mounts, mnt("/etc/resolv.conf", "bind", rc, "rbind,ro"));
	}
}

static json_t *build_mounts(void)
{
	json_t *m = json_array();

	(void)json_array_append_new(m, mnt("/proc", "proc", "proc", "nosuid,noexec,nodev"));
	(void)json_array_append_new(m, mnt("/dev", "tmpfs", "tmpfs",
					   "nosuid,strictatime,mode=755,size=65536k"));
	(void)json_array_append_new(m, mnt("/dev/pts", "devpts", "devpts",
					   "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"));
	(void)json_array_append_new(m, mnt("/dev/shm", "tmpfs", "shm",
					   "nosuid,noexec,nodev,mode=1777,size=65536k"));
	(void)json_array_append_new(m, mnt("/dev/mqueue", "mqueue", "mqueue",
					   "nosuid,noexec,nodev"));
	(void)json_array_append_new(m, mnt("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
	/* the container's own cgroups, read-only, as docker and podman mount them */
	(void)json_array_append_new(m, mnt("/sys/fs/cgroup", "cgroup", "cgroup",
					   "nosuid,noexec,nodev,relatime,ro"));
	return m;
}

static json_t *build_linux(const struct run_opts *o, enum net_mode net)
{
	json_t *ns = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}]", "type", "pid", "type", "ipc",
			       "type", "uts", "type", "mount");
	json_t *lx;

	if (net_mode_has_netns(net) && o->netns_path)
		(void)json_array_append_new(ns, json_pack("{s:s, s:s}", "type", "network", "path",
							  o->netns_path));
	else if (net_mode_has_netns(net))
		(void)json_array_append_new(ns, json_pack("{s:s}", "type", "network"));
	lx = json_pack("{s:o, s:o}", "namespaces", ns, "resources", build_resources(o));
	if (!o->privileged) {
		json_t *mp = json_array(), *rp = json_array();

		for (size_t i = 0; i < ARRAY_SIZE(masked_paths); i++)
			(void)json_array_append_new(mp, json_string(masked_paths[i]));
		for (size_t i = 0; i < ARRAY_SIZE(readonly_paths); i++)
			(void)json_array_append_new(rp, json_string(readonly_paths[i]));
		(void)json_object_set_new(lx, "maskedPaths", mp);
		(void)json_object_set_new(lx, "readonlyPaths", rp);
	}
	return lx;
}

int ctr_config_build(const struct run_opts *o, json_t *img, int rootfs_fd, const char *dir,
		     const char *id, json_t **ret, int *ret_exit, struct hull_err *err)
{
	json_t *icfg = json_object_get(img, "config");
	cleanup_strv char **args = NULL;
	cleanup_strv char **env = NULL;
	cleanup_free char *home = NULL;
	cleanup_free char *hostname = xstrndup(id, 12);
	const char *cwd = o->workdir ? o->workdir
				     : json_string_value(json_object_get(icfg, "WorkingDir"));
	const char *user = o->user ? o->user : json_string_value(json_object_get(icfg, "User"));
	json_t *juser = NULL, *caps = NULL, *mounts, *proc;
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
	    (r = build_args(o, icfg, &args, err)) < 0 ||
	    (r = ctr_user_resolve(user, rootfs_fd, &juser, &home, err)) < 0)
		return r;
	r = build_env(o, icfg, hostname, home, &env, err);
	if (r == 0)
		r = build_caps(o, &caps, err);
	if (r < 0) {
		json_decref(juser);
		return r;
	}
	{
		/* docker creates a missing working directory */
		int fd = path_mkdirs_in_root(rootfs_fd, cwd, 0755);

		if (fd >= 0)
			(void)close(fd);
	}
	mounts = build_mounts();
	add_etc_files(dir, hostname, net, rootfs_fd, mounts);
	r = add_volumes(o, mounts, err);
	/* after the mounts: the command may come from a volume */
	if (r == 0)
		r = ctr_command_check(rootfs_fd, mounts, cwd, args[0], env_get(env, "PATH"),
				      ret_exit, err);
	if (r < 0) {
		json_decref(juser);
		json_decref(caps);
		json_decref(mounts);
		return r;
	}
	proc = json_pack("{s:b, s:o, s:o, s:o, s:s, s:o, s:b}", "terminal", o->tty, "user", juser,
			 "args", strv_to_json(args), "env", strv_to_json(env), "cwd", cwd,
			 "capabilities", caps, "noNewPrivileges", false);
	*ret = json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o, s:{}}", "ociVersion", "1.0.2",
			 "process", proc, "root", "path", "rootfs", "readonly", o->read_only,
			 "hostname", hostname, "mounts", mounts, "linux", build_linux(o, net),
			 "annotations");
	*ret_exit = 0;
	return 0;
}
