#pragma once
/*
 * The security flags of `hull run/create` (create-security.c): --security-opt, --device,
 * --group-add, --sysctl, --ulimit. cmd-create.c lists CLI_SECURITY_OPTIONS in its table and
 * hands their values to cli_security_opt.
 */
#include <stdbool.h>

#include "engine/run.h"

enum {
	CLI_SEC_SECURITY_OPT = 0x1100, /* after registry-cli.h's values */
	CLI_SEC_DEVICE,
	CLI_SEC_GROUP_ADD,
	CLI_SEC_SYSCTL,
	CLI_SEC_ULIMIT,
};

#define CLI_SECURITY_OPTIONS                                                                \
	{ "security-opt", required_argument, NULL, CLI_SEC_SECURITY_OPT, "OPT",              \
	  "seccomp=unconfined|FILE, no-new-privileges[=true|false], systempaths=unconfined" }, \
	{ "device", required_argument, NULL, CLI_SEC_DEVICE, "HOST[:CTR][:PERMS]",           \
	  "add a host device (PERMS: some of rwm, default rwm)" },                            \
	{ "group-add", required_argument, NULL, CLI_SEC_GROUP_ADD, "GROUP",                   \
	  "an additional group (a name in the image's /etc/group, or a gid)" },               \
	{ "sysctl", required_argument, NULL, CLI_SEC_SYSCTL, "KEY=VALUE",                     \
	  "a namespaced kernel parameter (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, " \
	  "net.*)" },                                                                         \
	{ "ulimit", required_argument, NULL, CLI_SEC_ULIMIT, "NAME=SOFT[:HARD]",              \
	  "a resource limit (nofile, nproc, core, memlock, stack, ...; -1: unlimited)" },


/* Parse one value into o (strings stay argv's or are copied); 0, or EXIT_ENGINE after
 * printing one line naming the flag. */
int cli_security_opt(const char *cmd, int opt, const char *arg, struct run_opts *o);
/* The checks that need every flag (a net.* sysctl needs a network namespace). */
int cli_security_check(const char *cmd, const struct run_opts *o);
void cli_security_free(struct run_opts *o);

/* Pieces, for the unit tests: 0 or -EINVAL. */
int cli_device_parse(const char *arg, struct run_device *ret);
int cli_ulimit_parse(const char *arg, struct oci_rlimit *ret);
/* A key of docker's namespaced list; *needs_netns for net.* */
bool cli_sysctl_key_ok(const char *key, bool *needs_netns);
