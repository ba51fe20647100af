/* `hull-oci spec` and `hull-oci features`: documents generated from this build's tables. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/json.h"
#include "common/strv.h"
#include "oci/runtime.h"
#include "spec/spec.h"

/*
 * `hull-oci spec`: the model's defaults (spec/spec-defaults.c, shared with `hull run`), plus
 * what runc's spec adds for a bundle run by hand: a terminal running sh, NOFILE 1024,
 * noNewPrivileges, a read-only root, hostname "hull", and the deny-all device rule (or, with
 * --rootless, a user namespace mapping the caller to root and no resources).
 */
char *oci_default_spec(bool rootless)
{
	struct oci_defaults d = { .net_ns = true, .cgroup_ns = true };
	cleanup_oci_spec struct oci_spec *s = spec_new_default(&d);
	json_t *doc;
	char *out;

	strv_push(&s->process.args, "sh");
	strv_push(&s->process.env, "TERM=xterm");
	s->process.terminal = true;
	s->process.no_new_privileges = true;
	s->process.rlimits = xcalloc(2, sizeof(*s->process.rlimits));
	s->process.rlimits[0] = (struct oci_rlimit){ RLIMIT_NOFILE, "RLIMIT_NOFILE", 1024, 1024 };
	s->process.n_rlimits = 1;
	s->root_readonly = true;
	s->hostname = xstrdup("hull");
	if (rootless) {
		s->ns[OCI_NS_USER].present = true;
		s->uid_mappings = xcalloc(1, sizeof(*s->uid_mappings));
		s->gid_mappings = xcalloc(1, sizeof(*s->gid_mappings));
		*s->uid_mappings = (struct oci_idmap){ 0, getuid(), 1 };
		*s->gid_mappings = (struct oci_idmap){ 0, getgid(), 1 };
		s->n_uid_mappings = s->n_gid_mappings = 1;
	} else {
		s->has_resources = true;
		s->resources.has_devices = true;
		s->resources.devices = xcalloc(1, sizeof(*s->resources.devices));
		s->resources.devices[0] = (struct oci_dev_rule){ false, 'a', -1, -1, "rwm" };
		s->resources.n_devices = 1;
	}
	doc = spec_to_json(s);
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
		json_array_append_new(ns, json_string(spec_ns_name((enum oci_ns_kind)k)));
	for (int c = 0; c <= spec_cap_last(); c++)
		json_array_append_new(caps, json_string(spec_cap_name(c)));
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
