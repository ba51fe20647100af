#include "engine/run.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fd.h"
#include "common/ident.h"
#include "common/json.h"
#include "common/strv.h"
#include "engine/arch.h"
#include "engine/config.h"
#include "engine/ctrlog.h"
#include "common/signame.h"
#include "engine/human.h"
#include "engine/lifecycle.h"
#include "engine/network.h"
#include "engine/rootfs.h"
#include "container/tty.h"
#include "image/image.h"
#include "engine/backend.h"
#include "engine/volume.h"
#include "engine/vmroot.h"
#include "oci/state.h"

/* The one-field flags (cli/create-spec.h) as inspect shows them. */
static void record_fields(const struct run_opts *o, struct ctr_host_config *h)
{
	h->fields = xcalloc(o->n_spec_sets + 1, sizeof(*h->fields));
	for (size_t i = 0; i < o->n_spec_sets; i++) {
		const struct spec_field_set *s = &o->spec_sets[i];
		struct ctr_field *f = &h->fields[h->n_fields++];

		f->key = xstrdup(s->name);
		f->num = s->num;
		f->type = s->type == SPEC_FIELD_STR    ? CTR_FIELD_STR
			  : s->type == SPEC_FIELD_BOOL ? CTR_FIELD_BOOL
						       : CTR_FIELD_NUM;
		if (s->type == SPEC_FIELD_STR)
			f->str = xstrdup(s->str);
	}
}

/* tty_relay's tap: what the container's terminal prints goes to its log as stdout. */
static void log_tty_chunk(void *opaque, const char *buf, size_t len)
{
	ctr_log_chunk(*(int *)opaque, "stdout", buf, len);
}

static char *now_str(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return human_rfc3339(&ts);
}

static void random_id(char out[CTR_ID_LEN + 1])
{
	ident_random_hex(out, CTR_ID_LEN / 2);
}

/* docker-like generated names: adjective_noun, unique among the containers. */
static char *random_name(char *const *taken)
{
	static const char *const adj[] = { "brave", "calm", "eager", "fond", "gentle", "happy",
					   "jolly", "keen", "lucid", "merry", "nifty", "proud",
					   "quiet", "sharp", "tender", "vivid", "witty", "zen" };
	static const char *const noun[] = { "hull", "keel", "mast", "sail", "deck", "helm",
					    "bow", "stern", "anchor", "rudder", "cabin", "galley",
					    "hatch", "bridge", "berth", "compass" };
	unsigned char r[4];

	for (int tries = 0;; tries++) {
		char *n;

		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
			abort();
		n = tries < 20 ? xasprintf("%s_%s", adj[r[0] % ARRAY_SIZE(adj)],
					   noun[r[1] % ARRAY_SIZE(noun)])
			       : xasprintf("%s_%s_%u", adj[r[0] % ARRAY_SIZE(adj)],
					   noun[r[1] % ARRAY_SIZE(noun)], (unsigned)r[2] << 8 | r[3]);
		if (strv_find(taken, n) < 0)
			return n;
		free(n);
	}
}

static bool valid_name(const char *n)
{
	return ident_name_is_valid(n, 128);
}

static char *xstrdup_or(const char *s, const char *dflt)
{
	return xstrdup(s ? s : dflt);
}

/* The process of config.json as docker's Config shows it. */
static int record_process(struct ctr *c, json_t *oci, struct hull_err *err)
{
	json_t *proc = NULL;
	const char *cwd = NULL, *hostname = NULL;
	int r = hjson_get_obj(oci, "process", "config.json", true, &proc, err);

	if (r == 0)
		r = hjson_get_strv(proc, "args", "config.json: process", true, 65536,
				   &c->config.cmd, err);
	if (r == 0)
		r = hjson_get_strv(proc, "env", "config.json: process", false, 65536,
				   &c->config.env, err);
	if (r == 0)
		r = hjson_get_str(proc, "cwd", "config.json: process", false, &cwd, err);
	if (r == 0)
		r = hjson_get_str(oci, "hostname", "config.json", false, &hostname, err);
	if (r < 0)
		return r;
	if (!c->config.env)
		c->config.env = xcalloc(1, sizeof(char *));
	/* --init: the process is the init and the command; Config shows the command (docker) */
	if (c->host.init && strv_length(c->config.cmd) > 2 &&
	    strcmp(c->config.cmd[0], CTR_INIT_PATH) == 0) {
		char **cmd = strv_dup(c->config.cmd + 2);

		strv_free(c->config.cmd);
		c->config.cmd = cmd;
	}
	c->config.working_dir = xstrdup_or(cwd, "");
	c->config.hostname = xstrdup_or(hostname, "");
	c->path = xstrdup_or(c->config.cmd[0], "");
	c->args = strv_dup(c->config.cmd[0] ? c->config.cmd + 1 : c->config.cmd);
	return 0;
}

/* What the security flags asked for, as inspect shows it (record.h). */
static void record_security(const struct run_opts *o, struct ctr_host_config *h)
{
	if (o->seccomp)
		strv_push_owned(&h->security_opt, xasprintf("seccomp=%s", o->seccomp));
	if (o->no_new_privs)
		strv_push(&h->security_opt, "no-new-privileges");
	if (o->unmask_paths)
		strv_push(&h->security_opt, "systempaths=unconfined");
	h->security_opt_given = o->security_opt_given ? strv_dup(o->security_opt_given) : NULL;
	h->has_security_opt_given = true;
	h->group_add = o->group_add ? strv_dup(o->group_add) : NULL;
	h->sysctls = o->sysctls ? strv_dup(o->sysctls) : NULL;
	h->ulimits = xcalloc(o->n_rlimits + 1, sizeof(*h->ulimits));
	for (size_t i = 0; i < o->n_rlimits; i++) {
		const struct oci_rlimit *l = &o->rlimits[i];
		struct ctr_ulimit *u = &h->ulimits[h->n_ulimits++];

		u->name = xstrdup(l->name + strlen("RLIMIT_"));
		for (char *p = u->name; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		u->soft = l->soft == RLIM_INFINITY ? -1 : (int64_t)l->soft;
		u->hard = l->hard == RLIM_INFINITY ? -1 : (int64_t)l->hard;
	}
	h->devices = xcalloc(o->n_devices + 1, sizeof(*h->devices));
	for (size_t i = 0; i < o->n_devices; i++) {
		struct ctr_device *d = &h->devices[h->n_devices++];

		d->host = xstrdup(o->devices[i].host);
		d->path = xstrdup(o->devices[i].path);
		memcpy(d->perms, o->devices[i].perms, sizeof(d->perms));
	}
}

/* hull.json's content: what create was asked for, and what it made of it. */
static int record_fill(struct ctr *c, const struct run_opts *o, const char *name,
		       const struct image_info *img, const char *rootfs_mode, char *const *diff_ids,
		       json_t *oci, json_t *icfg, struct hull_err *err)
{
	const char *stop = json_string_value(json_object_get(icfg, "StopSignal"));
	struct ctr_host_config *h = &c->host;

	c->name = xstrdup(name);
	c->created = now_str();
	c->image = xstrdup(o->image);
	c->image_name = xstrdup(img->name ? img->name : img->config);
	c->image_id = xstrdup(img->config);
	c->rootfs_mode = xstrdup(rootfs_mode);
	c->layers = strv_dup(diff_ids);
	c->backend = xstrdup(o->vm ? "vm" : "oci");
	c->config.tty = o->tty;
	c->config.open_stdin = o->interactive;
	c->config.image = xstrdup(o->image);
	c->config.user = xstrdup_or(o->user, "");
	/* --stop-signal, else the image's STOPSIGNAL, used by `hull stop` */
	if (o->stop_signal)
		stop = o->stop_signal;
	c->config.stop_signal = xstrdup(stop && signal_parse(stop) > 0 ? stop : "SIGTERM");
	c->config.has_stop_timeout = o->has_stop_timeout;
	c->config.stop_timeout = o->stop_timeout;
	c->config.labels = ctr_labels_merge(json_object_get(icfg, "Labels"), o->labels);
	h->init = o->init;
	h->restart = o->restart;
	h->auto_remove = o->rm;
	h->network_mode = xstrdup_or(o->network, "bridge");
	h->memory = o->memory;
	h->nano_cpus = (int64_t)(o->cpus * 1e9);
	h->pids_limit = o->pids_limit;
	h->readonly_rootfs = o->read_only;
	h->privileged = o->privileged;
	record_security(o, h);
	record_fields(o, h);
	h->cap_add = strv_dup(o->cap_add);
	h->cap_drop = strv_dup(o->cap_drop);
	h->binds = strv_dup(o->volumes);
	h->memory_swap = o->memory_swap < 0 ? -1 : run_opts_memory_swap(o);
	h->cpu_shares = o->cpu_shares;
	h->cpuset_cpus = xstrdup_or(o->cpuset_cpus, "");
	c->state.status = CTR_CREATED;
	c->state.started_at = xstrdup("");
	c->state.finished_at = xstrdup("");
	return record_process(c, oci, err);
}

static int write_json(const char *dir, const char *name, json_t *v, struct hull_err *err)
{
	cleanup_free char *buf = hjson_dump(v, JSON_COMPACT);

	return ctr_write_file(dir, name, buf, strlen(buf), 0600, err);
}

static int create_in_dir(struct image_store *s, const struct run_opts *o, const char *id,
			 const char *name, const char *dir, int *ret_exit, struct hull_err *err)
{
	cleanup_json json_t *img = NULL;
	cleanup_json json_t *oci = NULL;
	cleanup_ctr struct ctr *c = xcalloc(1, sizeof(*c));
	cleanup_strv char **diff_ids = NULL;
	cleanup_close int rootfs = -1;
	cleanup_free char *rootfs_path = xasprintf("%s/rootfs", dir);
	struct image_info info = { 0 };
	struct run_opts o2 = *o;
	const char *mode = NULL;
	int r;

	(void)snprintf(c->id, sizeof(c->id), "%s", id);
	c->dir = xstrdup(dir);
	c->version = CTR_RECORD_VERSION;
	r = image_lookup(s, o->image, &info, err);
	if (r == 0)
		r = image_config(s, &info, &img, &diff_ids, err);
	if (r == 0 && o->vm) /* before the container check, whose remedy does not apply */
		r = engine_vm_arch_check(o->image,
					 json_string_value(json_object_get(img, "architecture")),
					 json_string_value(json_object_get(img, "variant")), err);
	if (r == 0)
		r = engine_arch_check(o->image, json_string_value(json_object_get(img, "os")),
				      json_string_value(json_object_get(img, "architecture")),
				      json_string_value(json_object_get(img, "variant")),
				      o->binfmt_dir, err);
	for (size_t i = 0; r == 0 && diff_ids[i]; i++)
		if (!store_layer_exists(s, diff_ids[i]))
			r = hull_err_setx(err, ENOENT, "image %s: layer %s is not unpacked: load "
					  "the image again", o->image, diff_ids[i]);
	if (r == 0)
		r = ctr_rootfs_setup(s, dir, diff_ids, o->force_copy, &mode, err);
	if (r == 0) {
		rootfs = open(rootfs_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rootfs < 0)
			r = hull_err_set(err, errno, "%s", rootfs_path);
	}
	if (r == 0)
		r = engine_mounts_resolve(s, &o2, json_object_get(img, "config"), rootfs, dir,
					  err);
	if (r == 0)
		r = ctr_config_build(&o2, img, rootfs, dir, id, &oci, ret_exit, err);
	if (r == 0 && (r = engine_net_create(s, o, json_object_get(img, "config"), id, name, dir,
					     err)) < 0)
		*ret_exit = 125;
	/* --vm: the kernel, initramfs and root image (built once per image) and the VM's size */
	if (r == 0 && o->vm && (r = vmroot_record(s, dir, info.config, diff_ids, o->kernel,
						  o->memory, o->cpus, err)) < 0)
		*ret_exit = 125;
	if (r == 0)
		r = write_json(dir, "config.json", oci, err);
	if (r == 0)
		r = record_fill(c, o, name, &info, mode, diff_ids, oci,
				json_object_get(img, "config"), err);
	if (r == 0)
		r = ctr_state_write(c, err);
	/* mounted again when it starts: an idle container holds no mount; before hull.json,
	 * so that a complete record never comes with a mount whatever kills us */
	if (r == 0)
		r = ctr_rootfs_teardown(dir, err);
	/* hull.json last: a directory without it is not a container (ctr_list) */
	if (r == 0)
		r = ctr_record_write(c, err);
	if (r < 0)
		engine_mounts_undo(s, dir);
	run_mounts_free(&o2);
	image_info_clear(&info);
	return r;
}

int engine_create(struct image_store *s, const struct run_opts *o, struct ctr **ret,
		  int *ret_exit, struct hull_err *err)
{
	cleanup_close int lock = -1;
	cleanup_free char *name = NULL;
	cleanup_free char *dir = NULL;
	cleanup_strv char **taken = NULL;
	cleanup_free char *nsp = NULL;
	struct run_opts o2 = *o;
	char id[CTR_ID_LEN + 1];
	int r;

	*ret_exit = 125;
	if (o->name && !valid_name(o->name))
		return hull_err_setx(err, EINVAL, "invalid container name '%s': use "
				     "[a-zA-Z0-9][a-zA-Z0-9_.-]*", o->name);
	r = image_store_lock(s, false, err);
	if (r < 0)
		return r;
	lock = ctr_names_lock(s, err);
	if (lock < 0)
		return lock;
	taken = ctr_names(s);
	if (o->name && strv_find(taken, o->name) >= 0)
		return hull_err_setx(err, EEXIST, "the container name \"%s\" is already in use",
				     o->name);
	name = o->name ? xstrdup(o->name) : random_name(taken);
	random_id(id);
	r = engine_net_ns_path(s, o, id, &nsp, err);
	if (r < 0)
		return r;
	o2.netns_path = nsp;
	dir = xasprintf("%s/containers/%s", s->root, id);
	if (mkdir(dir, 0700) < 0)
		return hull_err_set(err, errno, "%s", dir);
	r = create_in_dir(s, &o2, id, name, dir, ret_exit, err);
	if (r < 0) {
		struct hull_err e2;

		(void)ctr_rootfs_teardown(dir, &e2);
		(void)ctr_dir_remove(dir);
		return r;
	}
	return ctr_load(s, id, ret, err);
}

static int kill_running(struct image_store *s, struct ctr *c, int sig, struct hull_err *err);

static void state_set_running(struct ctr *c, pid_t pid)
{
	struct ctr_state *st = &c->state;
	bool zombie;

	st->status = CTR_RUNNING;
	st->pid = pid;
	st->monitor_pid = getpid();
	st->start_ticks = 0;
	if (proc_stat_read(pid, &st->start_ticks, &zombie) < 0)
		st->start_ticks = 0;
	free(st->started_at);
	st->started_at = now_str();
	free(st->finished_at);
	st->finished_at = xstrdup("");
	st->exit_code = 0;
	st->oom_killed = false;
}

/* again: the monitor restarts it (--restart) and stays its monitor meanwhile */
static void state_set_exited(struct ctr *c, int code, bool oom_killed, bool again)
{
	struct ctr_state *st = &c->state;

	st->status = CTR_EXITED;
	st->pid = 0;
	st->monitor_pid = again ? getpid() : 0;
	st->start_ticks = 0;
	free(st->finished_at);
	st->finished_at = now_str();
	st->exit_code = code;
	st->oom_killed = oom_killed;
}

/*
 * Create and start the container with the given stdio; the caller reaps *ret_pid. With a
 * terminal (Config.Tty), *ret_master receives the pty master.
 */
static int launch(struct image_store *s, struct ctr *c, const int stdio[3], pid_t *ret_pid,
		  int *ret_pidfd, int *ret_master, struct hull_err *err)
{
	cleanup_backend struct engine_backend b = { 0 };
	struct tty_console console = { .listen_fd = -1 };
	struct engine_io io = { .stdio = { -1, -1, -1 } };
	struct hull_err e2;
	int r;

	if (ctr_status_live(c) == CTR_RUNNING)
		return hull_err_setx(err, EBUSY, "container %s is already running", c->name);
	if (c->state.status == CTR_DEAD)
		return hull_err_setx(err, EINVAL, "container %s is marked for removal and cannot be "
				     "started", c->id);
	r = engine_backend_open(s, c, &b, err);
	if (r == 0)
		r = ctr_rootfs_ensure(s, c->dir, c->layers, c->rootfs_mode, err);
	if (r == 0 && (r = engine_net_setup(s, c, err)) < 0)
		(void)ctr_rootfs_teardown(c->dir, &e2);
	if (r < 0)
		return r;
	*ret_master = -1;
	/* with a terminal the pty is the container's stdio: pass none of ours */
	if (!c->config.tty)
		memcpy(io.stdio, stdio, sizeof(io.stdio));
	if (c->config.tty) {
		r = tty_console_listen(&console, err);
		if (r < 0) {
			tty_console_close(&console);
			return r;
		}
		io.console_socket = console.path;
	}
	r = b.ops->create(&b, c, &io, ret_pid, ret_pidfd, err);
	if (r == 0 && c->config.tty && tty_console_receive(&console, ret_master, err) < 0) {
		r = -err->code;
		(void)b.ops->remove(&b, c, true, &e2);
		(void)b.ops->wait(&b, *ret_pid);
	}
	tty_console_close(&console);
	if (r < 0) {
		engine_net_teardown(s, c);
		(void)ctr_rootfs_teardown(c->dir, &e2);
		return r;
	}
	r = b.ops->start(&b, c, err);
	if (r < 0) {
		(void)b.ops->remove(&b, c, true, &e2);
		(void)b.ops->wait(&b, *ret_pid);
		engine_net_teardown(s, c);
		(void)ctr_rootfs_teardown(c->dir, &e2);
		if (ret_pidfd && *ret_pidfd >= 0)
			(void)close(*ret_pidfd);
		if (*ret_master >= 0)
			(void)close(*ret_master);
		return r;
	}
	state_set_running(c, *ret_pid);
	(void)ctr_state_save(c, &e2);
	return 0;
}

/* After the init exited: record the status, drop the runtime state, --rm. */
static void finish(struct image_store *s, struct ctr *c, int code, bool rm, bool again)
{
	cleanup_backend struct engine_backend b = { 0 };
	struct hull_err e2;
	uint64_t kills = 0;
	bool oom = false;

	if (engine_backend_open(s, c, &b, &e2) == 0) {
		/* read before remove drops the cgroup; as docker, OOMKilled says the init died
		 * of it: SIGKILLed with a kill counted in its cgroup */
		oom = code == 128 + SIGKILL && b.ops->oom_kills(&b, c, &kills, &e2) == 0 &&
		      kills > 0;
		(void)b.ops->remove(&b, c, true, &e2);
	}
	engine_net_teardown(s, c);
	if (rm) {
		(void)engine_remove(s, c, true, &e2);
		return;
	}
	/* a stopped container holds no mount on the host; start mounts it again */
	(void)ctr_rootfs_teardown(c->dir, &e2);
	state_set_exited(c, code, oom, again);
	(void)ctr_state_save(c, &e2);
}

int engine_wait_handle(struct image_store *s, struct ctr *c, pid_t pid)
{
	cleanup_backend struct engine_backend b = { 0 };
	struct hull_err e2;

	if (engine_backend_open(s, c, &b, &e2) < 0)
		return -e2.code;
	return b.ops->wait(&b, pid);
}

int engine_stats(struct image_store *s, struct ctr *c, struct engine_stats *ret,
		 struct hull_err *err)
{
	cleanup_backend struct engine_backend b = { 0 };

	if (ctr_status_live(c) != CTR_RUNNING)
		return hull_err_setx(err, EINVAL, "container %s is not running", c->name);
	if (engine_backend_open(s, c, &b, err) < 0)
		return -err->code;
	return b.ops->stats(&b, c, ret, err);
}

/*
 * Tell the `hull run -d` (or `start`) waiting for us. It may have been killed meanwhile:
 * its end of the pipe is then closed, and the write must be an EPIPE, not our death by
 * SIGPIPE (the container would run unmonitored). The container's processes were cloned
 * before: they keep the default action.
 */
static void notify_parent(int fd, const char *msg)
{
	(void)signal(SIGPIPE, SIG_IGN);
	(void)fd_write_all(fd, msg, strlen(msg));
	(void)close(fd);
	(void)signal(SIGPIPE, SIG_DFL);
}

static volatile sig_atomic_t fg_pid;

static void forward_signal(int sig)
{
	if (fg_pid > 0)
		(void)kill((pid_t)fg_pid, sig);
}

/*
 * The container's stdout and stderr in the foreground: pipes that engine_run_foreground()
 * copies both to our own stdout/stderr and into ctr.log (docker logs a foreground
 * `docker run` too). With a terminal the pty carries the output instead (tty_relay logs it).
 * When the log cannot be opened the container gets our stdio as is.
 */
static int fg_pipes(struct ctr *c, int stdio[3], int out[2], int errp[2], int *ret_log,
		    struct hull_err *err)
{
	*ret_log = ctr_log_open(c->dir);
	if (*ret_log < 0 || c->config.tty)
		return 0;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
		return hull_err_set(err, errno, "%s: pipe", c->name);
	stdio[1] = out[1];
	stdio[2] = errp[1];
	return 0;
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			(void)close(fds[i]);
}

int engine_run_foreground(struct image_store *s, struct ctr *c, bool interactive, bool rm,
			  struct hull_err *err)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	cleanup_close int devnull = -1;
	cleanup_close int logfd = -1;
	struct sigaction sa = { .sa_handler = forward_signal, .sa_flags = SA_RESTART };
	int stdio[3] = { -1, -1, -1 };
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 };
	pid_t pid = 0;
	int code, r, master = -1;

	if (!interactive) {
		devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
		stdio[0] = devnull;
	}
	/* the store lock is not held while the container runs: prune and others go on */
	if (s->lock_fd >= 0) {
		(void)close(s->lock_fd);
		s->lock_fd = -1;
	}
	(void)ctr_clear_stopped(c->dir);
	c->state.restart_count = 0;
	r = fg_pipes(c, stdio, out, errp, &logfd, err);
	if (r == 0)
		r = launch(s, c, stdio, &pid, NULL, &master, err);
	close_fds((int[]){ out[1], errp[1] }, 2);
	if (r < 0) {
		close_fds((int[]){ out[0], errp[0] }, 2);
		if (rm) {
			struct hull_err e2;

			(void)engine_remove(s, c, true, &e2);
		}
		return r;
	}
	fg_pid = pid;
	(void)sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		(void)sigaction(sigs[i], &sa, NULL);
	if (master >= 0) {
		tty_relay(master, interactive, log_tty_chunk, &logfd);
		(void)close(master);
	} else if (out[0] >= 0) {
		/* a reader that went away is an EPIPE for ctr_log_relay(), not our death; the
		 * container has exec'd already, so it does not inherit this disposition */
		(void)signal(SIGPIPE, SIG_IGN);
		ctr_log_relay(logfd, out[0], errp[0], true);
	}
	code = engine_wait_handle(s, c, pid);
	fg_pid = 0;
	if (code < 0)
		code = 125;
	finish(s, c, code, rm, false);
	return code;
}

/* The monitor's pipes and one launch; *ret_out and *ret_err are the read ends (or the
 * terminal's master as the output). */
static int monitor_launch(struct image_store *s, struct ctr *c, int devnull, int *ret_out,
			  int *ret_err, pid_t *ret_pid, struct hull_err *err)
{
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int master = -1, r;

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		r = hull_err_set(err, errno, "%s: monitor set-up", c->id);
		close_fds((int[]){ out[0], out[1], errp[0], errp[1] }, 4);
		return r;
	}
	r = launch(s, c, (int[]){ devnull, out[1], errp[1] }, ret_pid, NULL, &master, err);
	close_fds((int[]){ out[1], errp[1] }, 2);
	if (r < 0) {
		close_fds((int[]){ out[0], errp[0] }, 2);
		return r;
	}
	if (master >= 0) { /* with a terminal, its output is the log's stdout */
		(void)close(out[0]);
		out[0] = master;
	}
	*ret_out = out[0];
	*ret_err = errp[0];
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The backoff before a restart, ended early by a user's stop (the mark). true: go on. */
static bool restart_pause(struct ctr *c, unsigned ms)
{
	for (unsigned waited = 0; waited < ms; waited += 20) {
		if (ctr_is_stopped(c->dir))
			return false;
		(void)usleep(20000);
	}
	return !ctr_is_stopped(c->dir);
}

/*
 * Between two runs (--restart): wait, then launch again through the start path (rootfs,
 * network, runtime). A stop marked after the launch stops the new run at once: the mark
 * and the status are each written before the other is read (engine_stop).
 */
static int monitor_restart(struct image_store *s, struct ctr *c, int devnull, unsigned delay,
			   int *out, int *errp, pid_t *pid)
{
	struct hull_err err = { 0 };

	if (!restart_pause(c, delay))
		return -ECANCELED;
	c->state.restart_count++;
	if (monitor_launch(s, c, devnull, out, errp, pid, &err) < 0) {
		c->state.monitor_pid = 0;
		(void)ctr_state_save(c, &err);
		return -ECANCELED;
	}
	if (ctr_is_stopped(c->dir))
		(void)kill_running(s, c, SIGKILL, &err);
	return 0;
}

int engine_monitor(struct image_store *s, struct ctr *c, int notify_fd)
{
	cleanup_close int logfd = -1;
	cleanup_close int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	int out = -1, errp = -1;
	struct hull_err err = { 0 };
	bool rm = c->host.auto_remove;
	unsigned delay = 0;
	pid_t pid = 0;

	logfd = ctr_log_open(c->dir);
	if (logfd < 0) {
		(void)hull_err_set(&err, -logfd, "%s: monitor set-up", c->id);
		goto fail;
	}
	if (monitor_launch(s, c, devnull, &out, &errp, &pid, &err) < 0)
		goto fail;
	notify_parent(notify_fd, "ok\n");
	for (;;) {
		long long started = now_ms();
		int code;
		bool again;

		/* The pipes close when every process of the container has exited (or closed
		 * them); the init's exit is collected after. */
		ctr_log_relay(logfd, out, errp, false);
		code = engine_wait_handle(s, c, pid);
		if (code < 0)
			code = 125;
		again = !rm && ctr_restart_wanted(&c->host.restart, code, c->state.restart_count,
						  ctr_is_stopped(c->dir));
		/* with again, still ours between the runs: stop and rm wait for us */
		finish(s, c, code, rm, again);
		if (!again)
			return 0;
		delay = ctr_restart_delay_ms(delay, now_ms() - started);
		if (monitor_restart(s, c, devnull, delay, &out, &errp, &pid) < 0)
			return 0;
	}
fail:
	{
		cleanup_free char *msg = xasprintf("err %s\n", err.msg);

		notify_parent(notify_fd, msg);
	}
	if (rm)
		(void)engine_remove(s, c, true, &err);
	return 1;
}

int engine_start_detached(struct image_store *s, struct ctr *c, struct hull_err *err)
{
	int p[2];
	pid_t pid;
	char buf[HULL_ERR_MSG_MAX + 8];
	ssize_t n;

	if (ctr_status_live(c) == CTR_RUNNING)
		return hull_err_setx(err, EBUSY, "container %s is already running", c->name);
	/* a user's start: the restart policy applies again, counting from 0 */
	(void)ctr_clear_stopped(c->dir);
	c->state.restart_count = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return hull_err_set(err, errno, "pipe");
	(void)fflush(NULL);
	pid = fork();
	if (pid < 0)
		return hull_err_set(err, errno, "fork");
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		(void)close(p[0]);
		if (s->lock_fd >= 0) {
			(void)close(s->lock_fd);
			s->lock_fd = -1;
		}
		(void)setsid();
		if (chdir("/") < 0) {
			/* nothing to do: the monitor uses absolute paths only */
		}
		if (fd >= 0) {
			(void)dup2(fd, 0);
			(void)dup2(fd, 1);
			(void)dup2(fd, 2);
			if (fd > 2)
				(void)close(fd);
		}
		_exit(engine_monitor(s, c, p[1]));
	}
	(void)close(p[1]);
	n = fd_read_all(p[0], buf, sizeof(buf) - 1);
	(void)close(p[0]);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	if (strncmp(buf, "ok", 2) == 0)
		return ctr_state_reload(c, err);
	buf[strcspn(buf, "\n")] = '\0';
	return hull_err_setx(err, EIO, "%s", n > 4 ? buf + 4 : "the monitor failed");
}

int engine_wait_exit(struct ctr *c, int timeout_ms)
{
	struct hull_err err;

	for (int waited = 0; timeout_ms < 0 || waited <= timeout_ms; waited += 20) {
		if (ctr_state_reload(c, &err) < 0 || ctr_status_live(c) != CTR_RUNNING)
			return 0;
		(void)usleep(20000);
	}
	return -ETIMEDOUT;
}

/* Signal the running container without marking it stopped by the user. */
static int kill_running(struct image_store *s, struct ctr *c, int sig, struct hull_err *err)
{
	cleanup_backend struct engine_backend b = { 0 };

	if (ctr_status_live(c) != CTR_RUNNING)
		return hull_err_setx(err, EINVAL, "container %s is not running", c->name);
	if (engine_backend_open(s, c, &b, err) < 0)
		return -err->code;
	return b.ops->kill(&b, c, sig, err);
}

int engine_kill(struct image_store *s, struct ctr *c, int sig, struct hull_err *err)
{
	/* a user's KILL or stop signal ends the container for its restart policy too
	 * (docker's HasBeenManuallyStopped); another signal (HUP...) does not */
	if ((sig == SIGKILL || sig == signal_parse(c->config.stop_signal)) &&
	    ctr_status_live(c) == CTR_RUNNING)
		(void)ctr_mark_stopped(c->dir);
	return kill_running(s, c, sig, err);
}

/* The monitor of c waiting to restart it (the container not running): until it exits.
 * It polls the stop mark between restarts. */
static void wait_monitor(struct ctr *c)
{
	struct hull_err e2;

	for (int i = 0; i < 500; i++) {
		if (ctr_state_reload(c, &e2) < 0 || c->state.status == CTR_RUNNING ||
		    c->state.monitor_pid <= 0 || kill(c->state.monitor_pid, 0) < 0)
			return;
		(void)usleep(20000);
	}
}

int engine_stop(struct image_store *s, struct ctr *c, int timeout, struct hull_err *err)
{
	int r, sig;

	/* before the status is read: a monitor restarting it now sees the mark once the new
	 * run is recorded, or we see that run (lifecycle.h) */
	(void)ctr_mark_stopped(c->dir);
	if (timeout == ENGINE_STOP_TIMEOUT_DEFAULT)
		timeout = c->config.has_stop_timeout ? c->config.stop_timeout : 10;
	if (ctr_status_live(c) != CTR_RUNNING) {
		wait_monitor(c);
		if (ctr_status_live(c) != CTR_RUNNING)
			return 0;
	}
	/* a kill that fails because the container is exiting right now is not an error */
	sig = signal_parse(c->config.stop_signal);
	r = kill_running(s, c, sig > 0 ? sig : SIGTERM, err);
	if (r < 0 && engine_wait_exit(c, 2000) < 0)
		return r;
	if (engine_wait_exit(c, timeout < 0 ? -1 : timeout * 1000) == 0)
		return 0;
	r = kill_running(s, c, SIGKILL, err);
	if (r < 0 && engine_wait_exit(c, 2000) < 0)
		return r;
	if (engine_wait_exit(c, 10000) < 0)
		return hull_err_setx(err, ETIMEDOUT, "container %s did not exit after SIGKILL",
				     c->name);
	return 0;
}

int engine_remove(struct image_store *s, struct ctr *c, bool force, struct hull_err *err)
{
	return engine_remove_v(s, c, force, false, err);
}

int engine_remove_v(struct image_store *s, struct ctr *c, bool force, bool volumes,
		    struct hull_err *err)
{
	cleanup_backend struct engine_backend b = { 0 };
	cleanup_strv char **anon = NULL;
	cleanup_close int names_lock = -1;
	struct hull_err e2;
	int r;

	/* a monitor between two runs (--restart) restarts nothing once marked */
	if (c->state.monitor_pid != getpid() && ctr_status_live(c) != CTR_RUNNING &&
	    c->state.monitor_pid > 0) {
		(void)ctr_mark_stopped(c->dir);
		wait_monitor(c);
	}
	/* the monitor removing its own container (--rm) is not "running" any more */
	if (ctr_status_live(c) == CTR_RUNNING &&
	    c->state.monitor_pid != getpid()) {
		if (!force)
			return hull_err_setx(err, EBUSY, "cannot remove running container %s: stop "
					     "it first or use -f", c->name);
		(void)ctr_mark_stopped(c->dir);
		(void)kill_running(s, c, SIGKILL, &e2);
		(void)engine_wait_exit(c, 10000);
	}
	/* a record whose backend this hull lacks is still removable: nothing of it runs */
	if (engine_backend_open(s, c, &b, &e2) == 0)
		(void)b.ops->remove(&b, c, true, &e2);
	engine_net_teardown(s, c);
	r = ctr_rootfs_teardown(c->dir, err);
	if (r < 0)
		return r;
	/* read before the directory goes: `rm -v` and --rm take the anonymous volumes along,
	 * under the names lock as `hull volume rm`: a create --volumes-from of this container
	 * (which holds it throughout) either sees the record and its volumes whole, or neither */
	if (volumes || c->host.auto_remove)
		anon = engine_anon_volumes(c->dir);
	if (anon && anon[0]) {
		names_lock = ctr_names_lock(s, err);
		if (names_lock < 0)
			return names_lock;
	}
	r = ctr_dir_remove(c->dir);
	if (r < 0)
		return hull_err_set(err, -r, "removing %s", c->dir);
	engine_anon_volumes_remove(s, anon);
	return 0;
}
