/* linux.seccomp: see seccomp.h and docs/runtime.md "seccomp". */
#include "container/seccomp.h"

#include <ctype.h>
#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/log.h"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

static void ctx_release(scmp_filter_ctx *c)
{
	if (*c)
		seccomp_release(*c);
}
#define cleanup_scmp __attribute__((cleanup(ctx_release)))

/* The model's actions as libseccomp's (the errno/trace data is or'ed in later). */
static const uint32_t scmp_actions[OCI_SCMP_ACTION_COUNT] = {
	[OCI_SCMP_KILL] = SCMP_ACT_KILL_THREAD,
	[OCI_SCMP_KILL_THREAD] = SCMP_ACT_KILL_THREAD,
	[OCI_SCMP_KILL_PROCESS] = SCMP_ACT_KILL_PROCESS,
	[OCI_SCMP_TRAP] = SCMP_ACT_TRAP,
	[OCI_SCMP_ERRNO] = SCMP_ACT_ERRNO(0),
	[OCI_SCMP_TRACE] = SCMP_ACT_TRACE(0),
	[OCI_SCMP_ALLOW] = SCMP_ACT_ALLOW,
	[OCI_SCMP_LOG] = SCMP_ACT_LOG,
	[OCI_SCMP_NOTIFY] = SCMP_ACT_NOTIFY,
};

_Static_assert(OCI_SCMP_FLAG_TSYNC == SECCOMP_FILTER_FLAG_TSYNC &&
		       OCI_SCMP_FLAG_LOG == SECCOMP_FILTER_FLAG_LOG &&
		       OCI_SCMP_FLAG_SPEC_ALLOW == SECCOMP_FILTER_FLAG_SPEC_ALLOW &&
		       OCI_SCMP_FLAG_WAIT_KILLABLE_RECV == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
	       "the model's seccomp flags are the kernel's bits");
_Static_assert((int)OCI_SCMP_CMP_NE == (int)SCMP_CMP_NE &&
		       (int)OCI_SCMP_CMP_MASKED_EQ == (int)SCMP_CMP_MASKED_EQ,
	       "the model's operators are libseccomp's numbers");

/* SCMP_ACT_ERRNO and SCMP_ACT_TRACE take errnoRet (default EPERM, as runc). */
static uint32_t action_of(enum oci_seccomp_action a, bool has_ret, uint32_t ret)
{
	uint32_t v = scmp_actions[a];

	if (spec_seccomp_action_takes_ret(a))
		v |= has_ret ? ret : EPERM;
	return v;
}

/* Architecture names are the model's; whether libseccomp knows one is asked here. */
static int add_arches(scmp_filter_ctx ctx, const struct oci_seccomp *sec, const char *w,
		      struct hull_err *err)
{
	for (size_t i = 0; sec->architectures && sec->architectures[i]; i++) {
		char lower[64];
		const char *a = sec->architectures[i];
		size_t n = 0;
		uint32_t arch;
		int r;

		if (strncmp(a, "SCMP_ARCH_", 10) == 0)
			a += 10;
		for (; n < sizeof(lower) - 1 && a[n]; n++)
			lower[n] = (char)tolower((unsigned char)a[n]);
		lower[n] = 0;
		arch = seccomp_arch_resolve_name(lower);
		if (!arch)
			return hull_err_setx(err, EINVAL, "%s.architectures[%zu]: architecture "
					     "\"%s\" unknown to this libseccomp", w, i,
					     sec->architectures[i]);
		r = ctx ? seccomp_arch_add(ctx, arch) : 0;
		if (r < 0 && r != -EEXIST)
			return hull_err_set(err, -r, "%s.architectures[%zu]: add %s", w, i,
					    sec->architectures[i]);
	}
	return 0;
}

/* One syscalls[] entry: each name, with its conditions (runc's rule for repeats). */
static int add_entry(scmp_filter_ctx ctx, const struct oci_seccomp_rule *rule, const char *w,
		     uint32_t def_action, struct hull_err *err)
{
	uint32_t action = action_of(rule->action, rule->has_errno_ret, rule->errno_ret);
	struct scmp_arg_cmp cmp[6];
	unsigned count[6] = { 0 }, n_args = (unsigned)rule->n_args;
	bool split = false;
	int r;

	for (unsigned k = 0; k < n_args; k++) {
		const struct oci_seccomp_arg *a = &rule->args[k];

		cmp[k] = (struct scmp_arg_cmp){ .arg = a->index, .op = (enum scmp_compare)a->op,
						.datum_a = a->value, .datum_b = a->value_two };
		if (++count[a->index] > 1)
			split = true;
	}
	/* libseccomp refuses a rule whose action is the default one; it changes nothing. */
	if (action == def_action || !ctx)
		return 0;
	for (size_t i = 0; rule->names[i]; i++) {
		int nr = seccomp_syscall_resolve_name(rule->names[i]);

		if (nr == __NR_SCMP_ERROR) {
			log_debug("%s.names[%zu]: syscall \"%s\" unknown to libseccomp: skipped", w,
				  i, rule->names[i]);
			continue;
		}
		/* Several conditions on the same argument cannot be one rule (libseccomp
		 * refuses them); as runc, each condition then becomes a rule of its own, so
		 * they match when any of them does. */
		if (split) {
			for (unsigned k = 0; k < n_args; k++)
				if ((r = seccomp_rule_add_array(ctx, action, nr, 1, &cmp[k])) < 0)
					return hull_err_set(err, -r, "%s: add rule for %s (args[%u])",
							    w, rule->names[i], k);
		} else if ((r = seccomp_rule_add_array(ctx, action, nr, n_args, cmp)) < 0) {
			return hull_err_set(err, -r, "%s: add rule for %s", w, rule->names[i]);
		}
	}
	return 0;
}

static int export_bpf(scmp_filter_ctx ctx, const char *w, struct seccomp_filter *f,
		      struct hull_err *err)
{
	cleanup_close int fd = memfd_create("hull-seccomp", MFD_CLOEXEC);
	struct stat st;
	int r;

	if (fd < 0)
		return hull_err_set(err, errno, "memfd_create");
	if ((r = seccomp_export_bpf(ctx, fd)) < 0)
		return hull_err_set(err, -r, "%s: export the filter", w);
	if (fstat(fd, &st) < 0)
		return hull_err_set(err, errno, "%s: export the filter", w);
	if (st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter) ||
	    st.st_size > (off_t)(BPF_MAXINSNS * sizeof(struct sock_filter)))
		return hull_err_setx(err, E2BIG, "%s: the filter has %lld bytes of BPF (at most "
				     "%d instructions fit)", w, (long long)st.st_size,
				     BPF_MAXINSNS);
	f->n_insns = (size_t)st.st_size / sizeof(struct sock_filter);
	f->insns = xcalloc(f->n_insns, sizeof(struct sock_filter));
	if (pread(fd, f->insns, (size_t)st.st_size, 0) != st.st_size)
		return hull_err_set(err, errno ? errno : EIO, "%s: read the filter back", w);
	return 0;
}

static int build(const struct oci_seccomp *sec, const char *w, bool want_bpf,
		 struct seccomp_filter *f, struct hull_err *err)
{
	cleanup_scmp scmp_filter_ctx ctx = NULL;
	uint32_t def = action_of(sec->default_action, sec->has_default_errno_ret,
				 sec->default_errno_ret);
	int r;

	f->notify = sec->default_action == OCI_SCMP_NOTIFY;
	for (size_t i = 0; i < sec->n_syscalls; i++)
		f->notify |= sec->syscalls[i].action == OCI_SCMP_NOTIFY;
	/* Without want_bpf (the BPF comes from the cache) nothing is handed to libseccomp. */
	if (want_bpf && !(ctx = seccomp_init(def)))
		return hull_err_setx(err, EINVAL, "%s.defaultAction: refused by libseccomp", w);
	if ((r = add_arches(ctx, sec, w, err)) < 0)
		return r;
	f->flags = sec->flags;
	f->listener_path = sec->listener_path ? xstrdup(sec->listener_path) : NULL;
	f->listener_metadata = sec->listener_metadata ? xstrdup(sec->listener_metadata) : NULL;
	for (size_t i = 0; i < sec->n_syscalls; i++) {
		char sw[128];

		(void)snprintf(sw, sizeof(sw), "%s.syscalls[%zu]", w, i);
		if ((r = add_entry(ctx, &sec->syscalls[i], sw, def, err)) < 0)
			return r;
	}
	if (f->notify) {
		/* TSYNC and NEW_LISTENER together need TSYNC_ESRCH; the process that installs
		 * the filter has one thread, so TSYNC has nothing to do anyway. */
		f->flags &= ~(unsigned)SECCOMP_FILTER_FLAG_TSYNC;
		f->flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
	} else if (f->flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) {
		/* It only changes how notifications wait; the kernel refuses it (EINVAL)
		 * without a listener. */
		log_debug("%s.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV without "
			  "SCMP_ACT_NOTIFY rules: dropped", w);
		f->flags &= ~(unsigned)SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
	}
	return ctx ? export_bpf(ctx, w, f, err) : 0;
}

int seccomp_filter_build(const struct oci_seccomp *sec, const char *w,
			 struct seccomp_filter *ret, struct hull_err *err)
{
	int r;

	*ret = (struct seccomp_filter){ 0 };
	if ((r = build(sec, w, true, ret, err)) < 0)
		seccomp_filter_clear(ret);
	return r;
}

#define CACHE_MAGIC "hull-seccomp 1\n"

/* The cache key text: the profile as the model writes it (sorted keys), and what made the
 * BPF from it. */
static char *cache_key_text(const struct oci_seccomp *sec)
{
	const struct scmp_version *v = seccomp_version();
	json_t *j = spec_seccomp_to_json(sec);
	char *dump = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	char *text;

	json_decref(j);
	if (!dump)
		return NULL;
	text = xasprintf("libseccomp %u.%u.%u x86_64 %s", v ? v->major : 0, v ? v->minor : 0,
			 v ? v->micro : 0, dump);
	free(dump);
	return text;
}

static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/* The BPF stored for exactly this key text, or false. */
static bool cache_load(int dirfd, const char *name, const char *key, struct seccomp_filter *f)
{
	cleanup_free char *buf = NULL;
	size_t len = 0, head = strlen(CACHE_MAGIC) + strlen(key) + 1, n;

	if (fd_read_file_at(dirfd, name, head + BPF_MAXINSNS * sizeof(struct sock_filter), &buf,
			    &len) < 0 || len <= head)
		return false;
	if (memcmp(buf, CACHE_MAGIC, strlen(CACHE_MAGIC)) != 0 ||
	    memcmp(buf + strlen(CACHE_MAGIC), key, strlen(key)) != 0 || buf[head - 1] != '\n' ||
	    (len - head) % sizeof(struct sock_filter))
		return false;
	n = (len - head) / sizeof(struct sock_filter);
	f->insns = xcalloc(n, sizeof(struct sock_filter));
	memcpy(f->insns, buf + head, len - head);
	f->n_insns = n;
	return true;
}

static void cache_store(int dirfd, const char *name, const char *key,
			const struct seccomp_filter *f)
{
	size_t head = strlen(CACHE_MAGIC) + strlen(key) + 1;
	size_t bpf = f->n_insns * sizeof(struct sock_filter);
	cleanup_free char *buf = xmalloc(head + bpf);
	int r;

	memcpy(buf, CACHE_MAGIC, strlen(CACHE_MAGIC));
	memcpy(buf + strlen(CACHE_MAGIC), key, strlen(key));
	buf[head - 1] = '\n';
	memcpy(buf + head, f->insns, bpf);
	if ((r = fd_write_file_atomic_at(dirfd, name, buf, head + bpf, 0600)) < 0)
		log_debug("seccomp cache: write %s: %s", name, strerror(-r));
}

int seccomp_filter_build_cached(const struct oci_seccomp *sec, const char *w, int cache_dirfd,
				struct seccomp_filter *ret, struct hull_err *err)
{
	cleanup_free char *key = NULL;
	char name[64];
	int r;

	if (cache_dirfd < 0 || !(key = cache_key_text(sec)))
		return seccomp_filter_build(sec, w, ret, err);
	(void)snprintf(name, sizeof(name), "%016llx.bpf", (unsigned long long)fnv1a64(key));
	*ret = (struct seccomp_filter){ 0 };
	if (cache_load(cache_dirfd, name, key, ret)) {
		/* Checked in full all the same: errors and the listener fields come from here. */
		if ((r = build(sec, w, false, ret, err)) < 0)
			seccomp_filter_clear(ret);
		return r;
	}
	seccomp_filter_clear(ret);
	if ((r = seccomp_filter_build(sec, w, ret, err)) < 0)
		return r;
	cache_store(cache_dirfd, name, key, ret);
	return 0;
}

void seccomp_filter_clear(struct seccomp_filter *f)
{
	free(f->insns);
	free(f->listener_path);
	free(f->listener_metadata);
	*f = (struct seccomp_filter){ 0 };
}

int seccomp_filter_install(const struct seccomp_filter *f, struct hull_err *err)
{
	struct sock_fprog prog = { .len = (unsigned short)f->n_insns, .filter = f->insns };
	long r;

	if (!f->insns)
		return 0;
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, f->flags, &prog);
	if (r < 0)
		return hull_err_set(err, errno, "config.json: linux.seccomp: load the filter");
	return f->notify ? (int)r : 0;
}

int seccomp_filter_try(const struct seccomp_filter *f, struct hull_err *err)
{
	pid_t pid;
	int st = 0;

	if (!f->insns)
		return 0;
	pid = fork();
	if (pid < 0)
		return hull_err_set(err, errno, "fork");
	if (pid == 0) {
		struct sock_fprog prog = { .len = (unsigned short)f->n_insns, .filter = f->insns };

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(errno);
		_exit(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, f->flags, &prog) < 0 ? errno
											     : 0);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return hull_err_set(err, errno, "waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return hull_err_set(err, WIFEXITED(st) ? WEXITSTATUS(st) : EIO,
				    "config.json: linux.seccomp: the kernel refuses the filter "
				    "(flags 0x%x)", f->flags);
	return 0;
}

int seccomp_load_spec(const struct oci_spec *s, struct hull_err *err)
{
	struct seccomp_filter f;
	int r;

	if (!s->seccomp)
		return 0;
	if ((r = seccomp_filter_build(s->seccomp, "config.json: linux.seccomp", &f, err)) < 0)
		return r;
	r = seccomp_filter_install(&f, err);
	seccomp_filter_clear(&f);
	return r;
}

char *seccomp_listener_message(const struct seccomp_filter *f, const char *state_json)
{
	json_t *msg = json_object(), *st = NULL, *fds = json_array();
	json_t *ver, *pid;
	char *out;

	st = state_json ? json_loads(state_json, 0, NULL) : NULL;
	if (!st)
		st = json_object();
	ver = json_object_get(st, "ociVersion");
	pid = json_object_get(st, "pid");
	(void)json_array_append_new(fds, json_string("seccompFd"));
	(void)json_object_set_new(msg, "ociVersion", ver ? json_incref(ver) : json_string("1.0.2"));
	(void)json_object_set_new(msg, "fds", fds);
	(void)json_object_set_new(msg, "pid", pid ? json_incref(pid) : json_integer(0));
	(void)json_object_set_new(msg, "metadata",
				  json_string(f->listener_metadata ? f->listener_metadata : ""));
	(void)json_object_set_new(msg, "state", st);
	out = hjson_dump(msg, 0);
	json_decref(msg);
	return out;
}

int seccomp_listener_connect(const struct seccomp_filter *f, struct hull_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cleanup_close int fd = -1;

	if (strlen(f->listener_path) >= sizeof(sa.sun_path))
		return hull_err_setx(err, ENAMETOOLONG,
				     "config.json: linux.seccomp.listenerPath: path too long");
	memcpy(sa.sun_path, f->listener_path, strlen(f->listener_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return hull_err_set(err, errno, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return hull_err_set(err, errno, "config.json: linux.seccomp.listenerPath: "
				    "connect to %s", f->listener_path);
	return steal_fd(&fd);
}

int seccomp_listener_send(int sock, int nfd, const char *msg, struct hull_err *err)
{
	size_t len = strlen(msg);
	ssize_t n = fd_send_with_fd(sock, nfd, msg, len);

	/* The rest of a long state message, if one sendmsg did not take it all. */
	if (n >= 0 && (size_t)n < len)
		n = fd_write_all(sock, msg + n, len - (size_t)n);
	if (n < 0)
		return hull_err_set(err, (int)-n, "config.json: linux.seccomp.listenerPath: send");
	return 0;
}
