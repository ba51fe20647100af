/* `hull run|create --vm`: its flags, and the ones a VM refuses (create-vm.h). */
#include "cli/create-vm.h"

#include <string.h>

#include "cli/commands.h"
#include "cli/opt.h"

int cli_vm_opt(const char *cmd, int opt, const char *arg, struct run_opts *o)
{
	(void)cmd;
	if (opt == CLI_VM_OPT)
		o->vm = cli_opt_on;
	else
		o->kernel = arg;
	return 0;
}

/* The first flag given that a VM does not carry in this version, or NULL. */
static const char *vm_refused(const struct run_opts *o)
{
	const struct {
		bool set;
		const char *flag;
	} v[] = {
		/* -v and --mount: binds and volumes become virtio-fs shares (engine/vm-fs.h) */
		{ o->tmpfs != NULL, "--tmpfs" },
		{ o->volumes_from != NULL, "--volumes-from" },
		{ o->n_devices > 0, "--device" },
		{ o->privileged, "--privileged" },
		{ o->cap_add != NULL, "--cap-add" },
		{ o->cap_drop != NULL, "--cap-drop" },
		{ o->seccomp || o->no_new_privs || o->unmask_paths, "--security-opt" },
		{ o->sysctls != NULL, "--sysctl" },
		{ o->n_rlimits > 0, "--ulimit" },
		{ o->read_only, "--read-only" },
		{ o->init, "--init" },
		{ o->force_copy, "--rootfs-copy" },
		{ o->memory_swap != 0, "--memory-swap" },
		{ o->cpu_shares != 0, "--cpu-shares" },
		{ o->cpuset_cpus != NULL, "--cpuset-cpus" },
		{ o->pids_limit != 0, "--pids-limit" },
		{ o->shm_size != 0, "--shm-size" },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (v[i].set)
			return v[i].flag;
	return NULL;
}

int cli_vm_check(const char *cmd, struct run_opts *o)
{
	const char *flag;

	if (!o->vm) {
		if (o->kernel)
			return cli_usage_error(cmd, "--kernel %s: only with --vm", o->kernel);
		return 0;
	}
	/* a NIC on a bridge network (engine/vm-net.h), or none; a VM has a kernel and a
	 * network stack of its own: it cannot share another's */
	if (o->network && (strcmp(o->network, "host") == 0 ||
			   strncmp(o->network, "container:", 10) == 0))
		return cli_usage_error(cmd, "--network %s: not with --vm (a VM has its own network "
				       "stack: use a bridge network or none)", o->network);
	flag = vm_refused(o);
	if (!flag && o->n_spec_sets > 0)
		flag = o->spec_sets[0].name;
	if (flag)
		return cli_usage_error(cmd, "%s: not supported with --vm yet", flag);
	return 0;
}
