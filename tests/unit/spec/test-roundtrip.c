/*
 * The spec model: parse -> write -> parse gives the same struct (compared through the
 * writer's canonical text) on seeded random configs that touch every field hull reads; every
 * rejected field is named in the error; and mutated configs never crash the parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "spec/spec.h"

/* A small LCG: the same seed gives the same configs on every machine. */
static unsigned rnd(unsigned *seed, unsigned n)
{
	*seed = *seed * 1103515245U + 12345U;
	return ((*seed >> 8) & 0xffffffU) % (n ? n : 1);
}

static const char *pick(unsigned *seed, const char *const *v, size_t n)
{
	return v[rnd(seed, (unsigned)n)];
}

#define PICK(seed, arr) pick(seed, arr, sizeof(arr) / sizeof(arr[0]))

static json_t *gen_process(unsigned *seed)
{
	static const char *const caps[] = { "CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_ADMIN",
					    "CAP_AUDIT_WRITE", "CAP_BPF", "CAP_SETUID" };
	static const char *const sets[] = { "bounding", "effective", "inheritable", "permitted",
					    "ambient" };
	static const char *const rl[] = { "RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_NPROC" };
	json_t *p = json_pack("{s:[s,s],s:[s],s:s,s:b,s:{s:i,s:i}}", "args", "/bin/sh", "-c",
			      "env", "PATH=/bin", "cwd", "/", "terminal", rnd(seed, 2), "user",
			      "uid", rnd(seed, 70000), "gid", rnd(seed, 70000));
	json_t *c = json_object(), *rls = json_array();

	if (rnd(seed, 2))
		json_object_set_new(json_object_get(p, "user"), "umask", json_integer(rnd(seed, 0777)));
	if (rnd(seed, 2))
		json_object_set_new(json_object_get(p, "user"), "additionalGids",
				    json_pack("[i,i]", rnd(seed, 100), 100 + rnd(seed, 100)));
	for (size_t s = 0; s < 5; s++) {
		json_t *a = json_array();

		for (unsigned k = rnd(seed, 4); k > 0; k--)
			json_array_append_new(a, json_string(PICK(seed, caps)));
		json_object_set_new(c, sets[s], a);
	}
	json_object_set_new(p, "capabilities", c);
	for (size_t i = 0; i < 3; i++)
		if (rnd(seed, 2)) {
			uint64_t soft = rnd(seed, 4096);

			json_array_append_new(rls, json_pack("{s:s,s:I,s:I}", "type", rl[i], "soft",
							     (json_int_t)soft, "hard",
							     (json_int_t)(soft + rnd(seed, 4096))));
		}
	json_object_set_new(p, "rlimits", rls);
	json_object_set_new(p, "noNewPrivileges", json_boolean(rnd(seed, 2)));
	if (rnd(seed, 2))
		json_object_set_new(p, "oomScoreAdj", json_integer((int)rnd(seed, 2001) - 1000));
	if (rnd(seed, 2))
		json_object_set_new(p, "consoleSize", json_pack("{s:i,s:i}", "height",
								1 + rnd(seed, 100), "width",
								1 + rnd(seed, 300)));
	if (rnd(seed, 2))
		json_object_set_new(p, "scheduler",
				    rnd(seed, 2) ? json_pack("{s:s,s:i}", "policy", "SCHED_OTHER",
							     "nice", (int)rnd(seed, 40) - 20)
						 : json_pack("{s:s,s:i,s:[s]}", "policy", "SCHED_FIFO",
							     "priority", 1 + rnd(seed, 99), "flags",
							     "SCHED_FLAG_RESET_ON_FORK"));
	if (rnd(seed, 2))
		json_object_set_new(p, "ioPriority", json_pack("{s:s,s:i}", "class",
							       "IOPRIO_CLASS_BE", "priority",
							       rnd(seed, 8)));
	if (rnd(seed, 3) == 0)
		json_object_set_new(p, "apparmorProfile", json_string("unconfined"));
	return p;
}

static json_t *gen_mounts(unsigned *seed)
{
	static const char *const opts[] = { "nosuid", "nodev", "noexec", "ro", "rw", "relatime",
					    "strictatime", "mode=755", "size=65536k", "rprivate",
					    "rslave", "shared", "rro", "rnosuid", "rnoatime",
					    "tmpcopyup", "dev", "exec", "suid", "nosymfollow" };
	json_t *a = json_array();

	for (unsigned i = rnd(seed, 6); i > 0; i--) {
		json_t *o = json_array();
		char dst[32];

		for (unsigned k = rnd(seed, 5); k > 0; k--)
			json_array_append_new(o, json_string(PICK(seed, opts)));
		(void)snprintf(dst, sizeof(dst), "/mnt/m%u", i);
		if (rnd(seed, 3) == 0) {
			json_array_append_new(o, json_string(rnd(seed, 2) ? "rbind" : "bind"));
			json_array_append_new(a, json_pack("{s:s,s:s,s:o}", "destination", dst,
							   "source", "/srv/data", "options", o));
		} else {
			json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:o}", "destination", dst,
							   "type", "tmpfs", "source", "tmpfs",
							   "options", o));
		}
	}
	return a;
}

static json_t *gen_resources(unsigned *seed)
{
	int64_t limit = (int64_t)(1 + rnd(seed, 1 << 20)) * 4096;
	json_t *r = json_object(), *devs = json_array();

	json_object_set_new(r, "memory",
			    json_pack("{s:I,s:I,s:I,s:i,s:b}", "limit", (json_int_t)limit,
				      "swap", (json_int_t)(rnd(seed, 3) ? limit * 2 : -1),
				      "reservation", (json_int_t)(limit / 2), "swappiness",
				      rnd(seed, 101), "disableOOMKiller", rnd(seed, 2)));
	json_object_set_new(r, "cpu", json_pack("{s:i,s:I,s:i,s:s,s:s}", "shares",
						2 + rnd(seed, 1024), "quota",
						(json_int_t)(rnd(seed, 2) ? -1 : 1000 + (int)rnd(seed, 99000)),
						"period", 1000 + rnd(seed, 999000), "cpus",
						rnd(seed, 2) ? "0" : "0-1,3", "mems", "0"));
	json_object_set_new(r, "pids", json_pack("{s:i}", "limit", (int)rnd(seed, 5000) - 1));
	json_object_set_new(r, "blockIO",
			    json_pack("{s:i,s:[{s:i,s:i,s:i}],s:[{s:i,s:i,s:I}]}", "weight",
				      10 + rnd(seed, 990), "weightDevice", "major", 8, "minor",
				      rnd(seed, 16), "weight", 10 + rnd(seed, 990),
				      "throttleReadBpsDevice", "major", 8, "minor", 0, "rate",
				      (json_int_t)rnd(seed, 1 << 30)));
	json_object_set_new(r, "hugepageLimits",
			    json_pack("[{s:s,s:I}]", "pageSize", "2MB", "limit",
				      (json_int_t)rnd(seed, 1 << 30)));
	json_object_set_new(r, "network", json_pack("{s:i,s:[{s:s,s:i}]}", "classID",
						    rnd(seed, 1 << 20), "priorities", "name",
						    "eth0", "priority", rnd(seed, 10)));
	json_object_set_new(r, "rdma", json_pack("{s:{s:i,s:i}}", "mlx5_1", "hcaHandles",
						 rnd(seed, 10), "hcaObjects", rnd(seed, 10000)));
	json_object_set_new(r, "unified", json_pack("{s:s}", "memory.high", "max"));
	json_array_append_new(devs, json_pack("{s:b,s:s}", "allow", 0, "access", "rwm"));
	json_array_append_new(devs, json_pack("{s:b,s:s,s:i,s:i,s:s}", "allow", 1, "type", "c",
					      "major", 1, "minor", rnd(seed, 10), "access",
					      rnd(seed, 2) ? "mwr" : "rw"));
	json_object_set_new(r, "devices", devs);
	return r;
}

static json_t *gen_seccomp(unsigned *seed)
{
	static const char *const acts[] = { "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
					    "SCMP_ACT_LOG", "SCMP_ACT_TRAP",
					    "SCMP_ACT_KILL_PROCESS" };
	static const char *const ops[] = { "SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_MASKED_EQ",
					   "SCMP_CMP_GT" };
	json_t *calls = json_array();

	for (unsigned i = rnd(seed, 5); i > 0; i--) {
		const char *act = PICK(seed, acts);
		json_t *c = json_pack("{s:[s,s],s:s}", "names", "mkdir", "getpid", "action", act);

		if (strcmp(act, "SCMP_ACT_ERRNO") == 0 && rnd(seed, 2))
			json_object_set_new(c, "errnoRet", json_integer(rnd(seed, 200)));
		if (rnd(seed, 2))
			json_object_set_new(c, "args",
					    json_pack("[{s:i,s:I,s:I,s:s}]", "index", rnd(seed, 6),
						      "value", (json_int_t)rnd(seed, 1 << 30),
						      "valueTwo", (json_int_t)rnd(seed, 7), "op",
						      PICK(seed, ops)));
		json_array_append_new(calls, c);
	}
	return json_pack("{s:s,s:[s,s],s:[s],s:o}", "defaultAction", "SCMP_ACT_ALLOW",
			 "architectures", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "flags",
			 "SECCOMP_FILTER_FLAG_LOG", "syscalls", calls);
}

static json_t *gen_linux(unsigned *seed, bool *uts)
{
	static const char *const ns[] = { "pid", "network", "ipc", "uts", "mount", "cgroup",
					  "user", "time" };
	json_t *l = json_object(), *a = json_array();
	bool have[8] = { false };

	for (size_t i = 0; i < 8; i++)
		if ((have[i] = rnd(seed, 3) != 0))
			json_array_append_new(a, json_pack("{s:s}", "type", ns[i]));
	json_object_set_new(l, "namespaces", a);
	*uts = have[3];
	if (have[6] && rnd(seed, 2)) {
		json_object_set_new(l, "uidMappings", json_pack("[{s:i,s:i,s:i}]", "containerID", 0,
								"hostID", 100000, "size", 65536));
		json_object_set_new(l, "gidMappings", json_pack("[{s:i,s:i,s:i}]", "containerID", 0,
								"hostID", 100000, "size", 65536));
	}
	if (have[1])
		json_object_set_new(l, "sysctl", json_pack("{s:s}", "net.ipv4.ip_forward", "1"));
	if (have[7])
		json_object_set_new(l, "timeOffsets",
				    json_pack("{s:{s:I,s:i}}", "monotonic", "secs",
					      (json_int_t)rnd(seed, 1000), "nanosecs",
					      rnd(seed, 1000000)));
	json_object_set_new(l, "devices", json_pack("[{s:s,s:s,s:i,s:i,s:i},{s:s,s:s}]", "path",
						    "/dev/fuse", "type", "c", "major", 10,
						    "minor", 229, "fileMode", 0666, "path",
						    "/dev/fifo", "type", "p"));
	json_object_set_new(l, "maskedPaths", json_pack("[s,s]", "/proc/kcore", "/proc/keys"));
	json_object_set_new(l, "readonlyPaths", json_pack("[s]", "/proc/sys"));
	json_object_set_new(l, "rootfsPropagation", json_string(rnd(seed, 2) ? "rslave"
									   : "private"));
	json_object_set_new(l, "cgroupsPath", json_string("/hull/x"));
	if (rnd(seed, 2))
		json_object_set_new(l, "personality", json_pack("{s:s,s:[s]}", "domain", "LINUX32",
								"flags", "ADDR_NO_RANDOMIZE"));
	if (rnd(seed, 2))
		json_object_set_new(l, "memoryPolicy", json_pack("{s:s,s:s}", "mode",
								 "MPOL_INTERLEAVE", "nodes",
								 "0-2,5"));
	json_object_set_new(l, "resources", gen_resources(seed));
	json_object_set_new(l, "seccomp", gen_seccomp(seed));
	return l;
}

static json_t *gen_config(unsigned seed)
{
	bool uts = false;
	json_t *c = json_pack("{s:s,s:{s:s,s:b}}", "ociVersion", "1.1.0", "root", "path",
			      "rootfs", "readonly", seed & 1);

	json_object_set_new(c, "process", gen_process(&seed));
	json_object_set_new(c, "mounts", gen_mounts(&seed));
	json_object_set_new(c, "linux", gen_linux(&seed, &uts));
	if (uts)
		json_object_set_new(c, "hostname", json_string("box"));
	if (rnd(&seed, 2))
		json_object_set_new(c, "hooks", json_pack("{s:[{s:s,s:[s,s],s:i}]}", "prestart",
							  "path", "/bin/hook", "args", "hook",
							  "x", "timeout", 5));
	json_object_set_new(c, "annotations", json_pack("{s:s}", "org.hull.seed", "x"));
	return c;
}

static struct oci_spec *parse_json(json_t *doc, struct hull_err *err)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	struct oci_spec *s = NULL;
	int r = spec_parse(text, strlen(text), "config.json", "/b", &s, err);

	free(text);
	return r == 0 ? s : NULL;
}

/* parse(text) -> write -> parse -> write: both writes are the same text. */
static void check_roundtrip(const char *text, const char *what)
{
	struct hull_err err = { 0 };
	struct oci_spec *a = NULL, *b = NULL;
	char *wa, *wb;

	if (spec_parse(text, strlen(text), "config.json", "/b", &a, &err) < 0)
		fail_msg("%s: %s", what, err.msg);
	wa = spec_dump(a);
	if (spec_parse(wa, strlen(wa), "config.json", "/b", &b, &err) < 0)
		fail_msg("%s: the written config does not parse: %s\n%s", what, err.msg, wa);
	wb = spec_dump(b);
	if (strcmp(wa, wb) != 0)
		fail_msg("%s: round trip differs:\n%s\n---\n%s", what, wa, wb);
	/* A few fields compared in the structs too, not only through the writer. */
	assert_int_equal(a->resources.mem_limit, b->resources.mem_limit);
	assert_int_equal(a->resources.mem_swap, b->resources.mem_swap);
	assert_int_equal(a->n_mounts, b->n_mounts);
	for (size_t i = 0; i < a->n_mounts; i++) {
		assert_int_equal(a->mounts[i].flags, b->mounts[i].flags);
		assert_int_equal(a->mounts[i].clear_flags, b->mounts[i].clear_flags);
		assert_int_equal(a->mounts[i].propagation, b->mounts[i].propagation);
		assert_int_equal(a->mounts[i].attr_set, b->mounts[i].attr_set);
		assert_int_equal(a->mounts[i].attr_clr, b->mounts[i].attr_clr);
	}
	assert_memory_equal(a->process.caps, b->process.caps, sizeof(a->process.caps));
	assert_int_equal(a->seccomp ? a->seccomp->n_syscalls : 0,
			 b->seccomp ? b->seccomp->n_syscalls : 0);
	free(wa);
	free(wb);
	spec_free(a);
	spec_free(b);
}

static void test_roundtrip_random(void **state)
{
	(void)state;
	for (unsigned seed = 1; seed <= 300; seed++) {
		json_t *c = gen_config(seed);
		char *text = json_dumps(c, JSON_COMPACT);
		char what[32];

		(void)snprintf(what, sizeof(what), "seed %u", seed);
		check_roundtrip(text, what);
		if (seed == 5 && getenv("SPEC_TEST_SHOW"))
			print_message("%s\n", text);
		free(text);
		json_decref(c);
	}
}

/* uint64 values above INT64_MAX survive the writer as plain numbers. */
static void test_roundtrip_big_u64(void **state)
{
	const char *doc = "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"
			  "\"process\":{\"args\":[\"x\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":"
			  "\"RLIMIT_NOFILE\",\"soft\":18446744073709551615,\"hard\":"
			  "18446744073709551615}]}}";
	struct hull_err err = { 0 };
	struct oci_spec *s = NULL;
	char *w;

	(void)state;
	check_roundtrip(doc, "big u64");
	assert_int_equal(spec_parse(doc, strlen(doc), "config.json", "/b", &s, &err), 0);
	w = spec_dump(s);
	assert_non_null(strstr(w, "18446744073709551615"));
	assert_null(strstr(w, "u64:"));
	free(w);
	spec_free(s);
}

/*
 * Mount data given as items with commas in them (runc joins unknown options with ','): the
 * writer splits it back into items, and must neither write empty ones nor pass the parser's
 * bound on items (fuzz-oci-spec found "strict,,,...,atime" written as 130 items).
 */
static void test_roundtrip_mount_data_commas(void **state)
{
	char doc[4096], many[512] = "", empties[256] = "strict";

	(void)state;
	for (int i = 0; i < 100; i++)
		(void)snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sk%d=%d",
			       i ? "," : "", i, i);
	for (int i = 0; i < 120; i++)
		(void)strcat(empties, ",");
	(void)strcat(empties, "atime");
	(void)snprintf(doc, sizeof(doc),
		       "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"
		       "\"process\":{\"args\":[\"x\"],\"cwd\":\"/\"},\"mounts\":["
		       "{\"destination\":\"/a\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
		       "\"options\":[\"nosuid\",\"%s\",\"mode=755\"]},"
		       "{\"destination\":\"/b\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
		       "\"options\":[\"%s\"]}]}", empties, many);
	check_roundtrip(doc, "mount data with commas");
}

/* Each bad value: set at path (a.b.c, objects made on the way) on a valid config. */
static const struct bad {
	const char *path;
	const char *value; /* JSON */
	const char *field; /* in the message, after "config.json: " */
} bad_values[] = {
	{ "linux.resources.memory.swap", "100", "linux.resources.memory.swap: must be >= memory.limit" },
	{ "linux.resources.memory.limit", "-2", "linux.resources.memory.limit" },
	{ "linux.resources.memory.kernel", "-5", "linux.resources.memory.kernel" },
	{ "linux.resources.cpu.quota", "999", "linux.resources.cpu.quota" },
	{ "linux.resources.cpu.period", "10", "linux.resources.cpu.period" },
	{ "linux.resources.cpu.cpus", "\"1-\"", "linux.resources.cpu.cpus" },
	{ "linux.resources.cpu.mems", "\"x\"", "linux.resources.cpu.mems" },
	{ "linux.resources.cpu.shares", "1", "linux.resources.cpu.shares" },
	{ "linux.resources.pids.limit", "-3", "linux.resources.pids.limit" },
	{ "linux.resources.blockIO.weight", "5", "linux.resources.blockIO.weight" },
	{ "linux.resources.hugepageLimits", "[{\"pageSize\":\"2M/x\",\"limit\":1}]",
	  "linux.resources.hugepageLimits[0].pageSize" },
	{ "linux.resources.rdma", "{\"mlx\":{\"hcaHandles\":-7}}", "linux.resources.rdma.mlx" },
	{ "linux.resources.unified", "{\"cgroup.procs\":\"1\"}",
	  "linux.resources.unified.cgroup.procs" },
	{ "linux.resources.devices", "[{\"allow\":true,\"access\":\"rwx\"}]",
	  "linux.resources.devices[0].access" },
	{ "linux.seccomp.defaultAction", "\"SCMP_ACT_NOPE\"", "linux.seccomp.defaultAction" },
	{ "linux.seccomp.defaultErrnoRet", "1", "linux.seccomp.defaultErrnoRet" },
	{ "linux.seccomp.architectures", "[\"SCMP_ARCH_VAX\"]", "linux.seccomp.architectures[0]" },
	{ "linux.seccomp.flags", "[\"SECCOMP_FILTER_FLAG_X\"]", "linux.seccomp.flags[0]" },
	{ "linux.seccomp.syscalls", "[{\"names\":[\"x\"],\"action\":\"SCMP_ACT_ALLOW\","
	  "\"args\":[{\"index\":9,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]",
	  "linux.seccomp.syscalls[0].args[0].index" },
	{ "linux.seccomp.syscalls", "[{\"names\":[\"x\"],\"action\":\"SCMP_ACT_NOTIFY\"}]",
	  "linux.seccomp.listenerPath" },
	{ "process.capabilities.bounding", "7", "process.capabilities.bounding" },
	{ "process.rlimits", "[{\"type\":\"RLIMIT_CORE\",\"soft\":2,\"hard\":1}]",
	  "process.rlimits[0]" },
	{ "process.cwd", "\"rel\"", "process.cwd" },
	{ "linux.namespaces", "[{\"type\":\"nope\"}]", "linux.namespaces[0].type" },
	{ "linux.uidMappings", "[{\"containerID\":0,\"hostID\":0,\"size\":0}]",
	  "linux.uidMappings[0].size" },
	{ "mounts", "[{\"destination\":\"/x\"}]", "mounts[0].type" },
	{ "linux.rootfsPropagation", "\"sideways\"", "linux.rootfsPropagation" },
	{ "linux.memoryPolicy", "{\"mode\":\"MPOL_BIND\"}", "linux.memoryPolicy.nodes" },
};

static void set_path(json_t *doc, const char *path, json_t *value)
{
	char buf[128], *save = NULL, *tok, *next;
	json_t *o = doc;

	(void)snprintf(buf, sizeof(buf), "%s", path);
	tok = strtok_r(buf, ".", &save);
	while ((next = strtok_r(NULL, ".", &save))) {
		json_t *c = json_object_get(o, tok);

		if (!json_is_object(c)) {
			c = json_object();
			json_object_set_new(o, tok, c);
		}
		o = c;
		tok = next;
	}
	json_object_set_new(o, tok, value);
}

static void test_rejected_fields_named(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		const struct bad *b = &bad_values[i];
		json_t *doc = gen_config(7), *v = json_loads(b->value, JSON_DECODE_ANY, NULL);
		struct hull_err err = { 0 };
		struct oci_spec *s;
		char want[256];

		assert_non_null(v);
		/* the user namespace the uidMappings case needs */
		json_object_set_new(json_object_get(doc, "linux"), "namespaces",
				    json_pack("[{s:s},{s:s}]", "type", "user", "type", "mount"));
		json_object_del(json_object_get(doc, "linux"), "sysctl");
		json_object_del(json_object_get(doc, "linux"), "timeOffsets");
		json_object_del(doc, "hostname");
		set_path(doc, b->path, v);
		s = parse_json(doc, &err);
		if (s)
			fail_msg("%s = %s: accepted", b->path, b->value);
		(void)snprintf(want, sizeof(want), "config.json: %s", b->field);
		if (!strstr(err.msg, want))
			fail_msg("%s = %s: \"%s\" does not name \"%s\"", b->path, b->value,
				 err.msg, want);
		json_decref(doc);
	}
}

/* Replace one random node of doc (depth first, the k-th) with a random value. */
static json_t *random_value(unsigned *seed)
{
	switch (rnd(seed, 9)) {
	case 0: return json_null();
	case 1: return json_integer(-1);
	case 2: return json_integer((json_int_t)INT64_MAX);
	case 3: return json_string("");
	case 4: return json_string("/../..");
	case 5: return json_array();
	case 6: return json_object();
	case 7: return json_true();
	default: return json_integer((json_int_t)rnd(seed, 1U << 31) - (1 << 30));
	}
}

static bool mutate(json_t *node, unsigned *seed, unsigned *k)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_object(node)) {
		json_object_foreach(node, key, v) {
			if ((*k)-- == 0) {
				if (rnd(seed, 3) == 0)
					json_object_del(node, key);
				else
					json_object_set_new(node, key, random_value(seed));
				return true;
			}
			if (mutate(v, seed, k))
				return true;
		}
	} else if (json_is_array(node)) {
		json_array_foreach(node, i, v) {
			if ((*k)-- == 0) {
				json_array_set_new(node, i, random_value(seed));
				return true;
			}
			if (mutate(v, seed, k))
				return true;
		}
	}
	return false;
}

static void test_mutations_never_crash(void **state)
{
	unsigned accepted = 0, refused = 0;

	(void)state;
	for (unsigned seed = 1; seed <= 3000; seed++) {
		json_t *doc = gen_config(seed % 97 + 1);
		unsigned s2 = seed * 2654435761U;
		struct hull_err err = { 0 };
		struct oci_spec *s;

		for (unsigned m = 1 + rnd(&s2, 3); m > 0; m--) {
			unsigned k = rnd(&s2, 400);

			(void)mutate(doc, &s2, &k);
		}
		s = parse_json(doc, &err);
		if (s) {
			char *w = spec_dump(s);

			accepted++;
			check_roundtrip(w, "mutated");
			free(w);
			spec_free(s);
		} else {
			refused++;
			assert_non_null(strstr(err.msg, "config.json"));
		}
		json_decref(doc);
	}
	print_message("mutations: %u accepted, %u refused\n", accepted, refused);
	assert_true(accepted > 0 && refused > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_random),
		cmocka_unit_test(test_roundtrip_big_u64),
		cmocka_unit_test(test_roundtrip_mount_data_commas),
		cmocka_unit_test(test_rejected_fields_named),
		cmocka_unit_test(test_mutations_never_crash),
	};

	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
