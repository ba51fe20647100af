#include "engine/seccomp-profile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"

/* The native architecture in docker's names (Go's GOARCH, 386 as "x86") and libseccomp's. */
#if defined(__x86_64__) && defined(__ILP32__)
#define NATIVE_ARCH "x32"
#define NATIVE_SCMP "SCMP_ARCH_X32"
#elif defined(__x86_64__)
#define NATIVE_ARCH "amd64"
#define NATIVE_SCMP "SCMP_ARCH_X86_64"
#elif defined(__i386__)
#define NATIVE_ARCH "x86"
#define NATIVE_SCMP "SCMP_ARCH_X86"
#elif defined(__aarch64__)
#define NATIVE_ARCH "arm64"
#define NATIVE_SCMP "SCMP_ARCH_AARCH64"
#elif defined(__arm__)
#define NATIVE_ARCH "arm"
#define NATIVE_SCMP "SCMP_ARCH_ARM"
#elif defined(__s390x__)
#define NATIVE_ARCH "s390x"
#define NATIVE_SCMP "SCMP_ARCH_S390X"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_ARCH "ppc64le"
#define NATIVE_SCMP "SCMP_ARCH_PPC64LE"
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH "riscv64"
#define NATIVE_SCMP "SCMP_ARCH_RISCV64"
#else
#define NATIVE_ARCH "unknown"
#define NATIVE_SCMP "SCMP_ARCH_NATIVE"
#endif

/* An array of strings at obj.key (absent: *ret NULL); where names obj. */
static int str_array(json_t *obj, const char *key, const char *where, json_t **ret,
		     struct hull_err *err)
{
	json_t *a = NULL, *v;
	size_t i;
	int r;

	*ret = NULL;
	/* docker writes null for an empty list ("subArchitectures": null) */
	if (json_is_null(json_object_get(obj, key)))
		return 0;
	if ((r = hjson_get_arr(obj, key, where, false, &a, err)) < 0)
		return r;
	json_array_foreach(a, i, v)
		if (!json_is_string(v))
			return hull_err_setx(err, EINVAL, "%s.%s[%zu]: expected a string, got %s",
					     where, key, i, hjson_type_name(v));
	*ret = a;
	return 0;
}

static bool array_has(json_t *a, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/* "MAJOR.MINOR" at s: 0, or -EINVAL */
static int version_parse(const char *s, unsigned long *maj, unsigned long *min, bool whole)
{
	char *end = NULL;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	*maj = strtoul(s, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	*min = strtoul(end + 1, &end, 10);
	return whole && *end ? -EINVAL : 0;
}

/* "4.8" against the running kernel's release ("6.1.0-18-amd64") */
static int kernel_at_least(const char *want, const char *w, bool *ret, struct hull_err *err)
{
	struct utsname u;
	unsigned long a, b, x = 0, y = 0;

	if (version_parse(want, &a, &b, true) < 0)
		return hull_err_setx(err, EINVAL, "%s.minKernel: \"%s\" is not MAJOR.MINOR", w,
				     want);
	if (uname(&u) < 0 || version_parse(u.release, &x, &y, false) < 0)
		x = y = 0;
	*ret = x > a || (x == a && y >= b);
	return 0;
}

/* Whether the caps of a includes/excludes object are all (all) or any (!all) held. */
static void caps_match(json_t *caps, uint64_t held, bool all, bool *ret)
{
	size_t i;
	json_t *v;

	*ret = all;
	json_array_foreach(caps, i, v) {
		int c = spec_cap_from_name(json_string_value(v));
		bool has = c >= 0 && (held >> c) & 1;

		if (all && !has)
			*ret = false;
		if (!all && has)
			*ret = true;
	}
}

/* docker's includes (caps all held, native arch listed, kernel new enough) */
static int includes_match(json_t *inc, uint64_t caps, const char *w, bool *ret,
			  struct hull_err *err)
{
	json_t *c = NULL, *a = NULL;
	const char *mk = NULL;
	bool m = true;
	int r;

	*ret = false;
	if ((r = str_array(inc, "caps", w, &c, err)) < 0 ||
	    (r = str_array(inc, "arches", w, &a, err)) < 0 ||
	    (r = hjson_get_str(inc, "minKernel", w, false, &mk, err)) < 0)
		return r;
	if (c)
		caps_match(c, caps, true, &m);
	if (!m || (a && json_array_size(a) && !array_has(a, NATIVE_ARCH)))
		return 0;
	if (mk && (r = kernel_at_least(mk, w, &m, err)) < 0)
		return r;
	*ret = m;
	return 0;
}

/* docker's excludes (any cap held, native arch listed) */
static int excludes_match(json_t *exc, uint64_t caps, const char *w, bool *ret,
			  struct hull_err *err)
{
	json_t *c = NULL, *a = NULL;
	bool m = false;
	int r;

	if ((r = str_array(exc, "caps", w, &c, err)) < 0 ||
	    (r = str_array(exc, "arches", w, &a, err)) < 0)
		return r;
	if (c)
		caps_match(c, caps, false, &m);
	*ret = m || (a && array_has(a, NATIVE_ARCH));
	return 0;
}

/* docker's includes/excludes of one syscalls[] entry: whether it applies here. */
static int entry_applies(json_t *sc, uint64_t caps, const char *w, bool *ret,
			 struct hull_err *err)
{
	json_t *inc = NULL, *exc = NULL;
	char iw[160], ew[160];
	bool in = true, ex = false;
	int r;

	*ret = false;
	(void)snprintf(iw, sizeof(iw), "%s.includes", w);
	(void)snprintf(ew, sizeof(ew), "%s.excludes", w);
	if ((r = hjson_get_obj(sc, "includes", w, false, &inc, err)) < 0 ||
	    (r = hjson_get_obj(sc, "excludes", w, false, &exc, err)) < 0 ||
	    (inc && (r = includes_match(inc, caps, iw, &in, err)) < 0) ||
	    (exc && (r = excludes_match(exc, caps, ew, &ex, err)) < 0))
		return r;
	*ret = in && !ex;
	return 0;
}

/* One syscalls[] entry in runtime-spec form: name becomes names; docker's keys go. */
static int entry_to_oci(json_t *sc, const char *w, json_t **ret, struct hull_err *err)
{
	json_t *o = json_deep_copy(sc);
	const char *name = NULL;
	int r;

	*ret = NULL;
	if ((r = hjson_get_str(sc, "name", w, false, &name, err)) < 0)
		goto fail;
	if (name && json_object_get(sc, "names")) {
		r = hull_err_setx(err, EINVAL, "%s: both name and names given: use names", w);
		goto fail;
	}
	if (name)
		(void)json_object_set_new(o, "names", json_pack("[s]", name));
	(void)json_object_del(o, "name");
	(void)json_object_del(o, "comment");
	(void)json_object_del(o, "includes");
	(void)json_object_del(o, "excludes");
	*ret = o;
	return 0;
fail:
	json_decref(o);
	return r;
}

/* architectures from archMap: the native one and its sub-architectures */
static int arch_map(json_t *prof, json_t *out, const char *w, struct hull_err *err)
{
	json_t *map = NULL, *e;
	char ew[160];
	size_t i;
	int r;

	if ((r = hjson_get_arr(prof, "archMap", w, false, &map, err)) < 0 || !map)
		return r;
	if (json_object_get(prof, "architectures"))
		return hull_err_setx(err, EINVAL, "%s: both architectures and archMap given: use "
				     "one", w);
	json_array_foreach(map, i, e) {
		const char *arch = NULL;
		json_t *subs = NULL, *list;

		(void)snprintf(ew, sizeof(ew), "%s.archMap[%zu]", w, i);
		if (!json_is_object(e))
			return hull_err_setx(err, EINVAL, "%s: expected an object, got %s", ew,
					     hjson_type_name(e));
		if ((r = hjson_get_str(e, "architecture", ew, true, &arch, err)) < 0 ||
		    (r = str_array(e, "subArchitectures", ew, &subs, err)) < 0)
			return r;
		if (strcmp(arch, NATIVE_SCMP) != 0)
			continue;
		list = json_pack("[s]", arch);
		if (subs)
			(void)json_array_extend(list, subs);
		(void)json_object_set_new(out, "architectures", list);
	}
	return 0;
}

/* prof (docker's format) as a runtime-spec linux.seccomp object for this container */
static int profile_to_oci(json_t *prof, uint64_t caps, const char *w, json_t **ret,
			  struct hull_err *err)
{
	json_t *out = NULL, *calls = NULL, *sc, *list;
	size_t i;
	int r;

	if (!json_is_object(prof))
		return hull_err_setx(err, EINVAL, "%s: expected an object, got %s", w,
				     hjson_type_name(prof));
	if ((r = hjson_get_arr(prof, "syscalls", w, false, &calls, err)) < 0)
		return r;
	if (calls && json_array_size(calls) > OCI_MAX_SECCOMP_SYSCALLS)
		return hull_err_setx(err, E2BIG, "%s.syscalls: more than %d entries", w,
				     OCI_MAX_SECCOMP_SYSCALLS);
	out = json_deep_copy(prof);
	(void)json_object_del(out, "archMap");
	list = json_array();
	(void)json_object_set_new(out, "syscalls", list);
	if ((r = arch_map(prof, out, w, err)) < 0)
		goto fail;
	json_array_foreach(calls, i, sc) {
		char sw[160];
		bool keep = false;
		json_t *o = NULL;

		(void)snprintf(sw, sizeof(sw), "%s.syscalls[%zu]", w, i);
		if (!json_is_object(sc)) {
			r = hull_err_setx(err, EINVAL, "%s: expected an object, got %s", sw,
					  hjson_type_name(sc));
			goto fail;
		}
		if ((r = entry_applies(sc, caps, sw, &keep, err)) < 0 ||
		    (keep && (r = entry_to_oci(sc, sw, &o, err)) < 0))
			goto fail;
		if (o)
			(void)json_array_append_new(list, o);
	}
	*ret = out;
	return 0;
fail:
	json_decref(out);
	return r;
}

int seccomp_profile_resolve(json_t *prof, uint64_t caps, const char *where,
			    struct oci_seccomp **ret, struct hull_err *err)
{
	json_t *oci = NULL;
	int r;

	*ret = NULL;
	if ((r = profile_to_oci(prof, caps, where, &oci, err)) < 0)
		return r;
	/* every rule of the model (actions, ops, errnoRet, limits) is checked once, there;
	 * entries left out are not checked, as docker leaves them */
	r = spec_seccomp_parse(oci, where, ret, err);
	json_decref(oci);
	return r;
}

int seccomp_profile_load(const char *path, uint64_t caps, struct oci_seccomp **ret,
			 struct hull_err *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	cleanup_free char *buf = NULL;
	json_t *prof = NULL;
	struct stat st;
	ssize_t n;
	int r;

	*ret = NULL;
	/* O_NONBLOCK and the regular-file check: a FIFO would block create forever */
	if (fd < 0 || fstat(fd, &st) < 0)
		return hull_err_set(err, errno, "%s", path);
	if (!S_ISREG(st.st_mode))
		return hull_err_setx(err, EINVAL, "%s: not a regular file", path);
	buf = xmalloc(SECCOMP_PROFILE_MAX_SIZE + 1);
	n = fd_read_all(fd, buf, SECCOMP_PROFILE_MAX_SIZE + 1);
	if (n < 0)
		return hull_err_set(err, (int)-n, "%s", path);
	if (n > (ssize_t)SECCOMP_PROFILE_MAX_SIZE)
		return hull_err_setx(err, EFBIG, "%s: larger than %u bytes", path,
				     SECCOMP_PROFILE_MAX_SIZE);
	if ((r = hjson_load_buf(buf, (size_t)n, path, &prof, err)) < 0)
		return r;
	{
		/* "p.json: profile.syscalls[2].action: ..." (json.h's "<file>: <field>") */
		cleanup_free char *w = xasprintf("%s: profile", path);

		r = seccomp_profile_resolve(prof, caps, w, ret, err);
	}
	json_decref(prof);
	return r;
}
