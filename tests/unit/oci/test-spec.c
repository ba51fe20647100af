/* Unit tests for src/oci/spec.c: config.json parsing and every bad-input class (issue 2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "common/alloc.h"
#include "common/json.h"
#include "common/log.h"
#include "oci/runtime.h"
#include "spec/spec.h"

static const char base_config[] =
	"{\"ociVersion\":\"1.0.2\","
	" \"process\":{\"terminal\":false,\"user\":{\"uid\":1,\"gid\":2,\"additionalGids\":[5,6],"
	"   \"umask\":18},"
	"   \"args\":[\"/bin/sh\",\"-c\",\"true\"],"
	"   \"env\":[\"PATH=/bin\",\"A=b=c\"],\"cwd\":\"/tmp\","
	"   \"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":10,\"hard\":20}],"
	"   \"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_SYS_ADMIN\"],"
	"     \"effective\":[\"CAP_KILL\",\"CAP_NOT_YET_INVENTED\"]},"
	"   \"noNewPrivileges\":true,\"oomScoreAdj\":-5},"
	" \"root\":{\"path\":\"rootfs\",\"readonly\":true},"
	" \"hostname\":\"h\",\"domainname\":\"d\","
	" \"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
	"   {\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"data\","
	"    \"options\":[\"rbind\",\"ro\",\"nosuid\",\"rprivate\",\"rnoexec\",\"rrelatime\"]},"
	"   {\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
	"    \"options\":[\"nosuid\",\"mode=755\",\"size=64k\",\"strictatime\"]}],"
	" \"hooks\":{\"prestart\":[{\"path\":\"/bin/hook\",\"args\":[\"hook\",\"a\"],"
	"   \"timeout\":3}],"
	"   \"poststop\":[{\"path\":\"/bin/post\"}]},"
	" \"annotations\":{\"k\":\"v\"},"
	" \"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"uts\"},"
	"   {\"type\":\"network\",\"path\":\"/proc/1/ns/net\"},{\"type\":\"user\"}],"
	"   \"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
	"   \"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
	"   \"devices\":[{\"path\":\"/dev/fuse\",\"type\":\"c\",\"major\":10,\"minor\":229,"
	"     \"fileMode\":438,\"uid\":0,\"gid\":0}],"
	"   \"sysctl\":{\"net.ipv4.ip_forward\":\"1\"},"
	"   \"maskedPaths\":[\"/proc/kcore\"],\"readonlyPaths\":[\"/proc/sys\"],"
	"   \"rootfsPropagation\":\"rslave\",\"cgroupsPath\":\"/hull/x\","
	"   \"resources\":{},\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\"}}}";

static struct oci_spec *parse_ok(const char *doc)
{
	struct oci_spec *s = NULL;
	struct hull_err err = { 0 };
	int r = spec_parse(doc, strlen(doc), "config.json", "/b", &s, &err);

	if (r < 0)
		fail_msg("unexpected error: %s", err.msg);
	return s;
}

static void test_valid_config(void **state)
{
	cleanup_oci_spec struct oci_spec *s = parse_ok(base_config);
	const struct oci_mount *m;

	assert_string_equal(s->root_path, "/b/rootfs");
	assert_true(s->root_readonly);
	assert_string_equal(s->hostname, "h");
	assert_int_equal(s->process.uid, 1);
	assert_int_equal(s->process.gid, 2);
	assert_int_equal(s->process.n_additional_gids, 2);
	assert_int_equal(s->process.umask, 18);
	assert_string_equal(s->process.args[2], "true");
	assert_null(s->process.args[3]);
	assert_string_equal(s->process.cwd, "/tmp");
	assert_int_equal(s->process.n_rlimits, 1);
	assert_int_equal(s->process.rlimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(s->process.rlimits[0].hard, 20);
	assert_true(s->process.has_caps);
	assert_int_equal(s->process.caps[OCI_CAP_BOUNDING], (1ULL << 5) | (1ULL << 21));
	assert_int_equal(s->process.caps[OCI_CAP_EFFECTIVE], 1ULL << 5); /* unknown skipped */
	assert_true(s->process.has_oom_score_adj);
	assert_int_equal(s->process.oom_score_adj, -5);

	assert_int_equal(s->n_mounts, 3);
	m = &s->mounts[1];
	assert_true(m->bind);
	assert_true(m->recursive);
	assert_null(m->type);
	assert_string_equal(m->source, "/b/data");
	assert_int_equal(m->flags, MS_RDONLY | MS_NOSUID);
	assert_int_equal(m->propagation, MS_PRIVATE | MS_REC);
	assert_int_equal(m->attr_set, MOUNT_ATTR_NOEXEC | MOUNT_ATTR_RELATIME);
	assert_int_equal(m->attr_clr, MOUNT_ATTR__ATIME);
	m = &s->mounts[2];
	assert_string_equal(m->type, "tmpfs");
	assert_string_equal(m->data, "mode=755,size=64k");
	assert_int_equal(m->flags, MS_NOSUID | MS_STRICTATIME);

	assert_int_equal(s->n_hooks[OCI_HOOK_PRESTART], 1);
	assert_int_equal(s->hooks[OCI_HOOK_PRESTART][0].timeout, 3);
	assert_string_equal(s->hooks[OCI_HOOK_PRESTART][0].args[1], "a");
	assert_int_equal(s->n_hooks[OCI_HOOK_POSTSTOP], 1);

	assert_true(s->ns[OCI_NS_PID].present);
	assert_null(s->ns[OCI_NS_PID].path);
	assert_string_equal(s->ns[OCI_NS_NET].path, "/proc/1/ns/net");
	assert_false(s->ns[OCI_NS_IPC].present);
	assert_int_equal(s->n_uid_mappings, 1);
	assert_int_equal(s->uid_mappings[0].host_id, 100000);
	assert_int_equal(s->n_devices, 1);
	assert_int_equal(s->devices[0].type, 'c');
	assert_int_equal(s->devices[0].minor, 229);
	assert_int_equal(s->devices[0].mode, 0666);
	assert_int_equal(s->n_sysctl, 1);
	assert_string_equal(s->masked_paths[0], "/proc/kcore");
	assert_int_equal(s->rootfs_propagation, MS_SLAVE | MS_REC);
	assert_string_equal(json_string_value(json_object_get(s->annotations, "k")), "v");
	assert_non_null(s->seccomp);
}

/* Apply a JSON-pointer-like edit to the base config; value NULL deletes. */
static char *edit(const char *path, const char *value_json)
{
	json_t *doc = json_loads(base_config, 0, NULL), *node = doc, *v = NULL;
	char *copy = strdup(path), *save = NULL, *last = NULL, *out;

	assert_non_null(doc);
	for (char *tok = strtok_r(copy, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
		if (last) {
			node = json_is_array(node) ? json_array_get(node, strtoul(last, NULL, 10))
						   : json_object_get(node, last);
			assert_non_null(node);
		}
		last = tok;
	}
	if (value_json) {
		v = json_loads(value_json, JSON_DECODE_ANY, NULL);
		assert_non_null(v);
	}
	if (json_is_array(node)) {
		size_t i = strtoul(last, NULL, 10);

		if (!v)
			json_array_remove(node, i);
		else if (i >= json_array_size(node))
			json_array_append_new(node, v);
		else
			json_array_set_new(node, i, v);
	} else if (!v) {
		json_object_del(node, last);
	} else {
		json_object_set_new(node, last, v);
	}
	out = json_dumps(doc, 0);
	json_decref(doc);
	free(copy);
	return out;
}

struct bad_case {
	const char *path;
	const char *value; /* NULL: delete the field */
	const char *want;  /* substring of the error message */
};

static const struct bad_case bad_cases[] = {
	{ "ociVersion", "2", "ociVersion: expected a string" },
	{ "ociVersion", "\"2.0.0\"", "ociVersion: unsupported version" },
	{ "root", NULL, "config.json: root: required field is missing" },
	{ "root.path", "7", "config.json: root.path: expected a string, got integer" },
	{ "root.path", "\"\"", "root.path: must not be empty" },
	{ "process.args", "\"/bin/true\"", "process.args: expected an array, got string" },
	{ "process.args", "[]", "process.args: must not be empty" },
	{ "process.args", "[1]", "process.args[0]: expected a string, got integer" },
	{ "process.env", "[\"NOEQUALS\"]", "process.env[0]: \"NOEQUALS\" is not of the form" },
	{ "process.cwd", "\"tmp\"", "process.cwd: \"tmp\" is not an absolute path" },
	{ "process.cwd", NULL, "process.cwd: required field is missing" },
	{ "process.user.uid", "\"0\"", "process.user.uid: expected an integer, got string" },
	{ "process.user.uid", "-1", "process.user.uid: -1 is out of range" },
	{ "process.user.additionalGids", "[\"x\"]", "process.user.additionalGids[0]" },
	{ "process.oomScoreAdj", "5000", "process.oomScoreAdj: 5000 is out of range" },
	{ "process.rlimits.0.type", "\"RLIMIT_BOGUS\"", "unknown rlimit \"RLIMIT_BOGUS\"" },
	{ "process.rlimits.0.soft", "100", "RLIMIT_NOFILE: soft limit 100 is above the hard" },
	{ "process.rlimits.1", "{\"type\":\"RLIMIT_NOFILE\",\"soft\":1,\"hard\":1}",
	  "duplicate rlimit" },
	{ "process.capabilities.bounding", "\"CAP_KILL\"",
	  "capabilities.bounding: expected an array" },
	{ "hostname", "5", "config.json: hostname: expected a string" },
	{ "mounts", "{}", "config.json: mounts: expected an array, got object" },
	{ "mounts.0.destination", NULL, "mounts[0].destination: required field is missing" },
	{ "mounts.0.options", "\"ro\"", "mounts[0].options: expected an array, got string" },
	{ "mounts.0.options", "[\"idmap\"]", "mounts[0]: idmapped mounts are supported for bind mounts only" },
	{ "mounts.0.uidMappings", "[{\"containerID\":0,\"hostID\":1,\"size\":0}]",
	  "mounts[0].uidMappings[0].size: 0 is out of range" },
	{ "mounts.1.source", NULL, "mounts[1].source: required for a bind mount" },
	{ "mounts.2.type", NULL, "mounts[2].type: required" },
	{ "hooks.prestart.0.path", "\"bin/hook\"",
	  "hooks.prestart[0].path: \"bin/hook\" is not an absolute path" },
	{ "hooks.prestart.0.timeout", "0", "hooks.prestart[0].timeout: 0 is out of range" },
	{ "hooks.poststop", "{}", "hooks.poststop: expected an array" },
	{ "annotations.k", "1", "annotations.k: expected a string" },
	{ "linux.namespaces.5", "{\"type\":\"bogus\"}",
	  "config.json: linux.namespaces[5].type: unknown namespace type \"bogus\"" },
	{ "linux.namespaces.5", "{\"type\":3}", "linux.namespaces[5].type: expected a string" },
	{ "linux.namespaces.5", "{\"type\":\"pid\"}",
	  "linux.namespaces[5].type: duplicate namespace \"pid\"" },
	{ "linux.namespaces.5", "{\"type\":\"ipc\",\"path\":\"proc/1/ns/ipc\"}",
	  "linux.namespaces[5].path: \"proc/1/ns/ipc\" is not an absolute path" },
	{ "linux.uidMappings.0.size", "\"big\"", "linux.uidMappings[0].size: expected an integer" },
	{ "linux.uidMappings.0.size", "0", "linux.uidMappings[0].size: 0 is out of range" },
	{ "linux.uidMappings.0.hostID", "4294967295",
	  "linux.uidMappings[0]: the range overflows 32 bits" },
	{ "linux.gidMappings", NULL, "needs uidMappings and gidMappings" },
	{ "linux.namespaces.4", "{\"type\":\"ipc\"}", "given without a new user namespace" },
	{ "linux.devices.0.type", "\"q\"", "linux.devices[0].type: unknown device type \"q\"" },
	{ "linux.devices.0.path", "\"dev/x\"",
	  "linux.devices[0].path: \"dev/x\" is not an absolute" },
	{ "linux.devices.0.major", NULL, "linux.devices[0].major: required field is missing" },
	{ "linux.sysctl.a", "1", "linux.sysctl.a: expected a string" },
	{ "linux.sysctl./x", "\"1\"", "linux.sysctl: invalid key" },
	{ "linux.maskedPaths", "[\"proc\"]", "linux.maskedPaths[0]: \"proc\" is not an absolute" },
	{ "linux.readonlyPaths", "[1]", "linux.readonlyPaths[0]: expected a string" },
	{ "linux.rootfsPropagation", "\"sideways\"", "rootfsPropagation: unknown propagation" },
	{ "linux.namespaces.2", "{\"type\":\"ipc\"}", "hostname: needs a new uts namespace" },
	{ "linux.timeOffsets", "{\"monotonic\":{\"secs\":1}}",
	  "timeOffsets: given without a time" },
	{ "linux.resources", "[]", "linux.resources: expected an object" },
	/* process.scheduler, process.ioPriority, linux.personality, linux.memoryPolicy */
	{ "process.scheduler", "{\"policy\":\"SCHED_X\"}",
	  "process.scheduler.policy: unknown policy \"SCHED_X\"" },
	{ "process.scheduler", "{\"nice\":1}", "process.scheduler.policy: required" },
	{ "process.scheduler", "{\"policy\":\"SCHED_OTHER\",\"nice\":20}",
	  "process.scheduler.nice" },
	{ "process.scheduler", "{\"policy\":\"SCHED_RR\"}",
	  "process.scheduler.priority: SCHED_RR needs a priority from 1 to 99" },
	{ "process.scheduler", "{\"policy\":\"SCHED_BATCH\",\"priority\":3}",
	  "process.scheduler.priority: must be 0 for SCHED_BATCH" },
	{ "process.scheduler", "{\"policy\":\"SCHED_OTHER\",\"flags\":[\"SCHED_FLAG_NO\"]}",
	  "process.scheduler.flags[0]: unknown flag" },
	{ "process.scheduler", "{\"policy\":\"SCHED_DEADLINE\",\"runtime\":5,\"deadline\":4}",
	  "process.scheduler: SCHED_DEADLINE needs" },
	{ "process.ioPriority", "{\"class\":\"IOPRIO_CLASS_NONE\"}",
	  "process.ioPriority.class: unknown class" },
	{ "process.ioPriority", "{\"class\":\"IOPRIO_CLASS_BE\",\"priority\":8}",
	  "process.ioPriority.priority" },
	{ "linux.personality", "{\"domain\":\"LINUX64\"}", "linux.personality.domain: unknown" },
	{ "linux.personality", "{\"domain\":\"LINUX\",\"flags\":[\"X\"]}",
	  "linux.personality.flags[0]: unknown flag" },
	{ "linux.memoryPolicy", "{\"mode\":\"MPOL_X\"}", "linux.memoryPolicy.mode: unknown" },
	{ "linux.memoryPolicy", "{\"mode\":\"MPOL_BIND\",\"nodes\":\"1,,2\"}",
	  "linux.memoryPolicy.nodes: \"1,,2\" is not a node list" },
	{ "linux.memoryPolicy", "{\"mode\":\"MPOL_BIND\",\"nodes\":\"0-5000\"}",
	  "linux.memoryPolicy.nodes" },
	{ "linux.memoryPolicy", "{\"mode\":\"MPOL_LOCAL\",\"nodes\":\"0\"}",
	  "linux.memoryPolicy.nodes: MPOL_LOCAL takes no nodes" },
	{ "linux.memoryPolicy", "{\"mode\":\"MPOL_INTERLEAVE\"}",
	  "linux.memoryPolicy.nodes: MPOL_INTERLEAVE needs nodes" },
};

static void test_sched_fields(void **state)
{
	char *doc = edit("process.scheduler",
			 "{\"policy\":\"SCHED_DEADLINE\",\"runtime\":10,\"deadline\":20,"
			 "\"period\":30,\"flags\":[\"SCHED_FLAG_RESET_ON_FORK\"]}");
	json_t *j = json_loads(doc, 0, NULL);
	struct oci_spec *s;
	char *buf;

	(void)state;
	json_object_set_new(json_object_get(j, "process"), "ioPriority",
			    json_pack("{s:s,s:i}", "class", "IOPRIO_CLASS_IDLE", "priority", 3));
	json_object_set_new(json_object_get(j, "linux"), "personality",
			    json_pack("{s:s,s:[s]}", "domain", "LINUX32", "flags",
				      "ADDR_NO_RANDOMIZE"));
	json_object_set_new(json_object_get(j, "linux"), "memoryPolicy",
			    json_pack("{s:s,s:s,s:[s]}", "mode", "MPOL_BIND", "nodes", "0-2,65",
				      "flags", "MPOL_F_STATIC_NODES"));
	buf = json_dumps(j, 0);
	s = parse_ok(buf);
	assert_true(s->process.has_scheduler);
	assert_int_equal(s->process.scheduler.policy, 6);
	assert_int_equal(s->process.scheduler.flags, 1);
	assert_int_equal(s->process.scheduler.period, 30);
	assert_true(s->process.has_io_priority);
	assert_int_equal(s->process.io_priority, (3 << 13) | 3);
	assert_true(s->has_personality);
	assert_int_equal(s->personality, 0x0008 | 0x0040000);
	assert_true(s->has_mempolicy);
	assert_int_equal(s->mempolicy.mode, 2);
	assert_int_equal(s->mempolicy.flags, 1 << 15);
	assert_int_equal(s->mempolicy.max_node, 66);
	assert_int_equal(s->mempolicy.nodes[0], 0x7UL | (0UL));
	assert_int_equal(s->mempolicy.nodes[1], 0x2UL);
	spec_free(s);
	free(buf);
	json_decref(j);
	free(doc);
}

static void test_bad_configs(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		char *doc = edit(c->path, c->value);
		struct oci_spec *s = NULL;
		struct hull_err err = { 0 };
		int r = spec_parse(doc, strlen(doc), "config.json", "/b", &s, &err);

		if (r >= 0)
			fail_msg("case %zu (%s): accepted", i, c->path);
		if (!strstr(err.msg, c->want))
			fail_msg("case %zu (%s): \"%s\" lacks \"%s\"", i, c->path, err.msg,
				 c->want);
		if (!strstr(err.msg, "config.json"))
			fail_msg("case %zu: \"%s\" does not name the file", i, err.msg);
		if (strchr(err.msg, '\n'))
			fail_msg("case %zu: more than one line: %s", i, err.msg);
		assert_null(s);
		free(doc);
	}
}

static void test_malformed_json(void **state)
{
	static const char *const docs[] = { "", "{", "{\"ociVersion\":}", "[1,2]", "nul",
					    "{\"a\":1,\"a\":2}" };

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct oci_spec *s = NULL;
		struct hull_err err = { 0 };

		assert_true(spec_parse(docs[i], strlen(docs[i]), "config.json", "/b", &s,
					   &err) < 0);
		assert_non_null(strstr(err.msg, "config.json"));
		assert_null(s);
	}
}

static void test_bounded_counts(void **state)
{
	json_t *doc = json_loads(base_config, 0, NULL), *ns = json_array();
	struct oci_spec *s = NULL;
	struct hull_err err = { 0 };
	char *buf;

	for (int i = 0; i < OCI_MAX_MOUNTS + 1; i++)
		json_array_append_new(ns, json_pack("{s:s,s:s}", "destination", "/x", "type",
						    "tmpfs"));
	json_object_set_new(doc, "mounts", ns);
	buf = json_dumps(doc, 0);
	assert_true(spec_parse(buf, strlen(buf), "config.json", "/b", &s, &err) < 0);
	assert_non_null(strstr(err.msg, "config.json: mounts: more than"));
	free(buf);
	json_decref(doc);
}

static void test_mount_destination_normalized(void **state)
{
	char *doc = edit("mounts.0.destination", "\"/run//x/../y/\"");
	cleanup_oci_spec struct oci_spec *s = parse_ok(doc);

	assert_string_equal(s->mounts[0].destination, "/run/y");
	free(doc);
	/* relative: from the container's / (runtime-spec 1.1, as runc) */
	doc = edit("mounts.0.destination", "\"run/z\"");
	{
		cleanup_oci_spec struct oci_spec *r = parse_ok(doc);

		assert_string_equal(r->mounts[0].destination, "/run/z");
	}
	free(doc);
}

static void test_container_ids(void **state)
{
	static const char *const good[] = { "a", "A-b_c.d+e", "0123" };
	static const char *const bad[] = { "", ".", "..", "a/b", "a b", "new\nline", "x\\y", "é" };
	char longid[OCI_ID_MAX + 2];
	struct hull_err err = { 0 };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(oci_id_validate(good[i], &err), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hull_err_clear(&err);
		assert_true(oci_id_validate(bad[i], &err) < 0);
		assert_null(strchr(err.msg, '\n'));
	}
	memset(longid, 'a', sizeof(longid) - 1);
	longid[OCI_ID_MAX] = '\0';
	assert_int_equal(oci_id_validate(longid, &err), 0);
	longid[OCI_ID_MAX] = 'a';
	longid[OCI_ID_MAX + 1] = '\0';
	assert_int_equal(oci_id_validate(longid, &err), -ENAMETOOLONG);
}

static void test_names(void **state)
{
	assert_int_equal(spec_cap_from_name("CAP_SYS_ADMIN"), 21);
	assert_int_equal(spec_cap_from_name("cap_chown"), 0);
	assert_int_equal(spec_cap_from_name("CAP_NOPE"), -1);
	assert_string_equal(spec_cap_name(spec_cap_last()), "CAP_CHECKPOINT_RESTORE");
	assert_string_equal(spec_ns_name(OCI_NS_NET), "network");
	assert_int_equal(spec_ns_clone_flag(OCI_NS_MOUNT), CLONE_NEWNS);
	assert_string_equal(spec_hook_name(OCI_HOOK_CREATE_RUNTIME), "createRuntime");
	assert_string_equal(oci_status_name(OCI_STATUS_CREATED), "created");
}

/* linux.sysctl keys by namespace (runc's and crun's lists), and refusals naming the key. */
static void test_sysctl_ns(void **state)
{
	static const struct {
		const char *key;
		enum oci_ns_kind ns;
	} cases[] = {
		{ "net.ipv4.ip_forward", OCI_NS_NET },      { "net/ipv4/ip_forward", OCI_NS_NET },
		{ "fs.mqueue.queues_max", OCI_NS_IPC },     { "kernel.msgmax", OCI_NS_IPC },
		{ "kernel.shm_rmid_forced", OCI_NS_IPC },   { "kernel.sem", OCI_NS_IPC },
		{ "kernel.domainname", OCI_NS_UTS },        { "kernel.hostname", OCI_NS_UTS },
		{ "kernel.msgmax2", OCI_NS_COUNT },         { "kernel.shm", OCI_NS_COUNT },
		{ "vm.swappiness", OCI_NS_COUNT },          { "fs.mqueue", OCI_NS_COUNT },
		{ "user.max_user_namespaces", OCI_NS_COUNT }, { "netx.a", OCI_NS_COUNT },
		{ "kernel.pid_max", OCI_NS_COUNT },         { "", OCI_NS_COUNT },
	};
	static const struct {
		const char *nss, *sysctl, *msg;
	} docs[] = {
		{ "{\"type\":\"mount\"}", "\"net.ipv4.ip_forward\":\"1\"",
		  "linux.sysctl: net.ipv4.ip_forward: needs a network namespace" },
		{ "{\"type\":\"mount\"},{\"type\":\"network\"}", "\"kernel.sem\":\"1 2 3 4\"",
		  "linux.sysctl: kernel.sem: needs a ipc namespace" },
		{ "{\"type\":\"mount\"},{\"type\":\"ipc\"}", "\"kernel.domainname\":\"x\"",
		  "linux.sysctl: kernel.domainname: needs a uts namespace" },
		{ "{\"type\":\"mount\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},"
		  "{\"type\":\"network\"}",
		  "\"vm.swappiness\":\"1\"", "linux.sysctl: vm.swappiness: not namespaced" },
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_int_equal(spec_sysctl_ns(cases[i].key), cases[i].ns);
	for (size_t i = 0; i < ARRAY_SIZE(docs); i++) {
		cleanup_free char *doc = xasprintf(
			"{\"ociVersion\":\"1.1.0\",\"root\":{\"path\":\"r\"},"
			"\"linux\":{\"namespaces\":[%s],\"sysctl\":{%s}}}",
			docs[i].nss, docs[i].sysctl);
		struct oci_spec *s = NULL;
		struct hull_err err = { 0 };

		assert_true(spec_parse(doc, strlen(doc), "config.json", "/b", &s, &err) < 0);
		if (!strstr(err.msg, docs[i].msg))
			fail_msg("case %zu: got \"%s\"", i, err.msg);
	}
	/* joined by path: the model accepts it (whose namespace it is, is a host check) */
	{
		const char *doc = "{\"ociVersion\":\"1.1.0\",\"root\":{\"path\":\"r\"},"
				  "\"linux\":{\"namespaces\":[{\"type\":\"ipc\",\"path\":\"/x\"}],"
				  "\"sysctl\":{\"kernel.msgmax\":\"1\"}}}";
		spec_free(parse_ok(doc));
	}
}

static void test_default_spec_parses(void **state)
{
	char *doc = oci_default_spec(false), *rootless = oci_default_spec(true);
	cleanup_oci_spec struct oci_spec *s = parse_ok(doc);
	cleanup_oci_spec struct oci_spec *r = parse_ok(rootless);

	assert_true(s->ns[OCI_NS_MOUNT].present);
	assert_false(s->ns[OCI_NS_USER].present);
	assert_true(r->ns[OCI_NS_USER].present);
	assert_int_equal(r->n_uid_mappings, 1);
	free(doc);
	free(rootless);
}

static void test_features_json(void **state)
{
	char *f = oci_features_json();
	json_t *doc = json_loads(f, 0, NULL);

	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "ociVersionMax")), "1.1.0");
	assert_int_equal(json_array_size(json_object_get(json_object_get(doc, "linux"),
							  "namespaces")),
			 OCI_NS_COUNT);
	json_decref(doc);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_config),
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_malformed_json),
		cmocka_unit_test(test_bounded_counts),
		cmocka_unit_test(test_mount_destination_normalized),
		cmocka_unit_test(test_container_ids),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_default_spec_parses),
		cmocka_unit_test(test_sysctl_ns),
		cmocka_unit_test(test_features_json),
		cmocka_unit_test(test_sched_fields),
	};

	/* base_config names an unknown capability on purpose: keep its warning quiet */
	log_set_level(LOG_LEVEL_ERROR);

	return cmocka_run_group_tests(tests, NULL, NULL);
}
