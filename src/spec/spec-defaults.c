/*
 * The one list of defaults a new config starts from, for `hull run`/`hull create`
 * (engine/config.c) and `hull-oci spec` (oci/defaults.c). Where docker's and runc's defaults
 * differ, docker's are taken (moby's oci/defaults.go, daemon/oci_linux.go), since both
 * programs build containers that users compare with docker's; docs/runtime.md "Defaults":
 *   - capabilities: docker's 14 (runc's spec has only 3);
 *   - maskedPaths: docker's list, /sys/devices/virtual/powercap included (runc lacks it);
 *   - readonlyPaths: the same in both;
 *   - mounts: docker's, /proc with nosuid,noexec,nodev (runc's has no options), /dev/shm of
 *     64 MiB unless --shm-size says otherwise, /sys and /sys/fs/cgroup read-only unless
 *     privileged;
 *   - devices: runc's AllowedDevices, applied by the cgroup code (container/cgroup.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/strv.h"
#include "spec/spec.h"

const char *const spec_default_caps[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE", NULL,
};

static const char *const masked_paths[] = {
	"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap", NULL,
};

static const char *const readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void spec_add_mount(struct oci_spec *s, const char *dst, const char *type, const char *src,
			const char *opts)
{
	cleanup_free char *copy = xstrdup(opts ? opts : "");
	cleanup_strv char **options = NULL;
	struct oci_mount *m;
	char *save = NULL;

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		strv_push(&options, t);
	s->mounts = xreallocarray(s->mounts, s->n_mounts + 2, sizeof(*s->mounts));
	m = &s->mounts[s->n_mounts++];
	memset(m, 0, 2 * sizeof(*m));
	m->destination = xstrdup(dst);
	m->source = xstrdup(src);
	m->src_fd = -1;
	if (strcmp(type, "bind") == 0)
		m->bind = true;
	else
		m->type = xstrdup(type);
	/* The options are this file's or the engine's own: they always parse. */
	(void)spec_mount_options_parse(m, options, dst, NULL);
}

uint64_t spec_caps_from_names(const char *const *names)
{
	uint64_t v = 0;

	for (size_t i = 0; names && names[i]; i++) {
		int c = spec_cap_from_name(names[i]);

		if (c >= 0)
			v |= 1ULL << c;
	}
	return v;
}

static void default_mounts(struct oci_spec *s, int64_t shm_size, bool privileged)
{
	char shm[96];
	/* docker's --privileged: /sys and the cgroup tree writable */
	const char *ro = privileged ? "" : ",ro";
	char sys[64], cg[64];

	(void)snprintf(shm, sizeof(shm), "nosuid,noexec,nodev,mode=1777,size=%lld",
		       (long long)(shm_size > 0 ? shm_size : OCI_DEFAULT_SHM_SIZE));
	spec_add_mount(s, "/proc", "proc", "proc", "nosuid,noexec,nodev");
	spec_add_mount(s, "/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k");
	spec_add_mount(s, "/dev/pts", "devpts", "devpts",
			   "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5");
	spec_add_mount(s, "/dev/shm", "tmpfs", "shm", shm);
	spec_add_mount(s, "/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev");
	(void)snprintf(sys, sizeof(sys), "nosuid,noexec,nodev%s", ro);
	(void)snprintf(cg, sizeof(cg), "nosuid,noexec,nodev,relatime%s", ro);
	spec_add_mount(s, "/sys", "sysfs", "sysfs", sys);
	/* the container's own cgroups, read-only, as docker and podman mount them */
	spec_add_mount(s, "/sys/fs/cgroup", "cgroup", "cgroup", cg);
}

struct oci_spec *spec_new_default(const struct oci_defaults *d)
{
	struct oci_spec *s = xcalloc(1, sizeof(*s));
	uint64_t caps = spec_caps_from_names(spec_default_caps);

	s->oci_version = xstrdup(OCI_SPEC_VERSION);
	s->root_path = xstrdup("rootfs");
	s->annotations = json_object();
	s->has_process = true;
	s->process.cwd = xstrdup("/");
	strv_push(&s->process.env, DEFAULT_PATH);
	s->process.has_caps = true;
	s->process.caps[OCI_CAP_BOUNDING] = s->process.caps[OCI_CAP_EFFECTIVE] =
		s->process.caps[OCI_CAP_PERMITTED] = caps;
	default_mounts(s, d->shm_size, d->privileged);
	s->ns[OCI_NS_PID].present = s->ns[OCI_NS_IPC].present = true;
	s->ns[OCI_NS_UTS].present = s->ns[OCI_NS_MOUNT].present = true;
	s->ns[OCI_NS_NET].present = d->net_ns;
	s->ns[OCI_NS_CGROUP].present = d->cgroup_ns;
	if (!d->privileged) {
		s->masked_paths = strv_dup((char *const *)masked_paths);
		s->readonly_paths = strv_dup((char *const *)readonly_paths);
	}
	return s;
}
