/* `hull-oci spec` and `hull-oci features`: documents generated from this build's tables. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/json.h"
#include "oci/runtime.h"
#include "spec/spec.h"

/* The caps a default container keeps: what docker and podman grant by default. */
static const char *const default_caps[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
};

static const char default_doc[] =
	"{\"ociVersion\":\"1.1.0\","
	"\"process\":{\"terminal\":true,\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"sh\"],"
	"\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","
	"\"TERM=xterm\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,"
	"\"soft\":1024}],\"noNewPrivileges\":true},"
	"\"root\":{\"path\":\"rootfs\",\"readonly\":true},\"hostname\":\"hull\","
	"\"mounts\":["
	"{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
	"{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":"
	"[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
	"{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":"
	"[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\"gid=5\"]},"
	"{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":"
	"[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
	"{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\",\"options\":"
	"[\"nosuid\",\"noexec\",\"nodev\"]},"
	"{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":"
	"[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},"
	"{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"options\":"
	"[\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]}],"
	"\"linux\":{\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},"
	"\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},"
	"{\"type\":\"uts\"},{\"type\":\"mount\"},{\"type\":\"cgroup\"}],"
	"\"maskedPaths\":[\"/proc/acpi\",\"/proc/asound\",\"/proc/kcore\",\"/proc/keys\","
	"\"/proc/latency_stats\",\"/proc/timer_list\",\"/proc/timer_stats\",\"/proc/sched_debug\","
	"\"/sys/firmware\",\"/proc/scsi\"],"
	"\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\","
	"\"/proc/sysrq-trigger\"]}}";

char *oci_default_spec(bool rootless)
{
	json_t *doc = json_loads(default_doc, 0, NULL), *caps = json_array(), *set;
	char *out;

	if (!doc)
		abort();
	for (size_t i = 0; i < ARRAY_SIZE(default_caps); i++)
		json_array_append_new(caps, json_string(default_caps[i]));
	set = json_pack("{s:O,s:O,s:O}", "bounding", caps, "effective", caps, "permitted", caps);
	json_object_set_new(json_object_get(doc, "process"), "capabilities", set);
	json_decref(caps);
	if (rootless) {
		json_t *lnx = json_object_get(doc, "linux");

		json_array_append_new(json_object_get(lnx, "namespaces"),
				      json_pack("{s:s}", "type", "user"));
		json_object_set_new(lnx, "uidMappings",
				    json_pack("[{s:i,s:i,s:i}]", "containerID", 0, "hostID",
					      (int)getuid(), "size", 1));
		json_object_set_new(lnx, "gidMappings",
				    json_pack("[{s:i,s:i,s:i}]", "containerID", 0, "hostID",
					      (int)getgid(), "size", 1));
		json_object_del(lnx, "resources");
	}
	/* features.md: idmapped mounts (a mount's uidMappings/gidMappings) are supported. */
	json_object_set_new(json_object_get(doc, "linux"), "mountExtensions",
			    json_pack("{s:{s:b}}", "idmap", "enabled", 1));
	out = json_dumps(doc, JSON_INDENT(2));
	json_decref(doc);
	if (!out)
		abort();
	return out;
}

static json_t *strs(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

char *oci_features_json(void)
{
	static const char *const hooks[] = { "prestart", "createRuntime", "createContainer",
					     "startContainer", "poststart", "poststop" };
	static const char *const mount_opts[] = {
		"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
		"idmap", "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime", "noexec",
		"nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow",
		"private", "rbind", "rdev", "rdiratime", "relatime", "remount", "rexec",
		"ridmap", "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnosuid", "rnosymfollow", "ro",
		"rprivate", "rrelatime", "rro", "rrw", "rshared", "rslave", "rstrictatime",
		"rsuid", "rsymfollow", "runbindable", "rw", "shared", "silent", "slave",
		"strictatime", "suid", "symfollow", "sync", "unbindable",
	};
	static const char *const sc_actions[] = {
		"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
		"SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE",
		"SCMP_ACT_TRAP",
	};
	static const char *const sc_ops[] = {
		"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
		"SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE",
	};
	static const char *const sc_archs[] = { "SCMP_ARCH_X86", "SCMP_ARCH_X86_64",
						"SCMP_ARCH_X32" };
	json_t *ns = json_array(), *caps = json_array(), *doc;
	char *out;

	for (int k = 0; k < OCI_NS_COUNT; k++)
		json_array_append_new(ns, json_string(oci_ns_name((enum oci_ns_kind)k)));
	for (int c = 0; c <= oci_cap_last(); c++)
		json_array_append_new(caps, json_string(oci_cap_name(c)));
	doc = json_pack("{s:s,s:s,s:o,s:o,s:{s:o,s:o,s:{s:b,s:b,s:b},s:{s:b,s:o,s:o,s:o},"
			"s:{s:b},s:{s:b}},s:{}}",
			"ociVersionMin", "1.0.0", "ociVersionMax", "1.1.0", "hooks",
			strs(hooks, ARRAY_SIZE(hooks)), "mountOptions",
			strs(mount_opts, ARRAY_SIZE(mount_opts)), "linux", "namespaces", ns,
			"capabilities", caps, "cgroup", "v1", 1, "v2", 1, "systemd", 0, "seccomp",
			"enabled", 1, "actions", strs(sc_actions, ARRAY_SIZE(sc_actions)),
			"operators", strs(sc_ops, ARRAY_SIZE(sc_ops)), "archs",
			strs(sc_archs, ARRAY_SIZE(sc_archs)), "apparmor", "enabled", 0, "selinux",
			"enabled", 0,
			"annotations");
	/* features.md: idmapped mounts (a mount's uidMappings/gidMappings) are supported. */
	json_object_set_new(json_object_get(doc, "linux"), "mountExtensions",
			    json_pack("{s:{s:b}}", "idmap", "enabled", 1));
	out = json_dumps(doc, JSON_INDENT(2));
	json_decref(doc);
	if (!out)
		abort();
	return out;
}
