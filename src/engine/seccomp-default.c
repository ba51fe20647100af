/*
 * hull's default seccomp profile: the semantics of docker's default (moby
 * profiles/seccomp/default.json, described in docs.docker.com "Seccomp security profiles"),
 * written here as hull's own table and turned into a profile in docker's file format, so
 * that the default and a `--security-opt seccomp=FILE` go through one resolver
 * (seccomp-profile.c) against the container's final capabilities.
 *
 * What it says:
 *   - default action SCMP_ACT_ERRNO with errno 1 (EPERM): a refused call fails, it does not
 *     kill (docker's defaultErrnoRet);
 *   - an allow list of the calls an unprivileged process needs (BASE below);
 *   - calls that a capability makes safe are allowed only with it (includes.caps): mount,
 *     unshare, setns, bpf, perf_event_open... with CAP_SYS_ADMIN; ptrace and
 *     process_vm_* with CAP_SYS_PTRACE; module loading with CAP_SYS_MODULE; ...;
 *   - argument rules: personality() only with the values glibc and util-linux use, socket()
 *     of any family but AF_VSOCK, clone() without namespace flags when the container lacks
 *     CAP_SYS_ADMIN, and clone3() failing with ENOSYS then (its flags live in memory that
 *     seccomp cannot read; ENOSYS makes glibc fall back to clone());
 *   - keyring calls (add_key, keyctl, request_key), kexec, userfaultfd, swapon... are in no
 *     group: refused with EPERM whatever the capabilities (docker's).
 * A name this libseccomp does not know is skipped where the filter is built
 * (container/seccomp.c), never fatal.
 */
#include "engine/seccomp-profile.h"

#include <sched.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cleanup.h"

/* Calls every container may make. */
static const char *const base[] = {
	"accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget", "capset",
	"chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
	"clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
	"clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect",
	"copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1",
	"epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
	"epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group",
	"faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark",
	"fchdir", "fchmod", "fchmodat", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64",
	"fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr",
	"fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
	"ftruncate64", "futex", "futex_time64", "futex_waitv", "futimesat", "getcpu", "getcwd",
	"getdents", "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid",
	"getgid32", "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid",
	"getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid", "getresgid32",
	"getresuid", "getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid",
	"getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid",
	"getuid32", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
	"inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
	"io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup",
	"io_submit", "io_uring_enter", "io_uring_register", "io_uring_setup", "ipc", "kill",
	"landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
	"lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr",
	"_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise",
	"membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod",
	"mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr",
	"mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
	"mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd",
	"msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep",
	"newfstatat", "_newselect", "open", "openat", "openat2", "pause", "pidfd_open",
	"pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect",
	"poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
	"process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2",
	"read", "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg",
	"recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat",
	"renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
	"rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
	"rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity",
	"sched_getattr", "sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
	"sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
	"sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
	"sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
	"semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto",
	"setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
	"setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
	"setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
	"setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
	"set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt",
	"shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
	"sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs",
	"statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
	"sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun",
	"timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
	"timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
	"timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask",
	"uname", "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes",
	"vfork", "vmsplice", "wait4", "waitid", "waitpid", "write", "writev", NULL,
};

#define NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* CLONE_NEW* flags (linux/sched.h): clone() with any of them needs CAP_SYS_ADMIN. */
#define NS_FLAGS                                                                          \
	((uint64_t)(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | \
		    CLONE_NEWNET | CLONE_NEWCGROUP))

/*
 * One group of the table. includes: every cap of caps_all held (docker's includes.caps),
 * the native architecture in arches, the kernel at least min_kernel; excludes: any cap of
 * caps_none held, or the native architecture in not_arches.
 */
struct sc_group {
	const char *const *names;
	const char *action; /* SCMP_ACT_ALLOW unless given */
	int errno_ret;      /* > 0: errnoRet */
	const char *caps_all, *caps_none; /* one capability name */
	const char *arches, *not_arches;  /* space separated docker names ("amd64 x32") */
	const char *min_kernel;
	bool has_arg;
	unsigned arg_index;
	uint64_t arg_value;
	const char *arg_op;
};

static const struct sc_group groups[] = {
	{ .names = base },
	/* ptrace became safe for an unprivileged process in 4.8 (seccomp checked after it) */
	{ .names = NAMES("process_vm_readv", "process_vm_writev", "ptrace"), .min_kernel = "4.8" },
	{ .names = NAMES("socket"), .has_arg = true, .arg_index = 0, .arg_value = 40 /* AF_VSOCK */,
	  .arg_op = "SCMP_CMP_NE" },
	/* PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and the query 0xffffffff */
	{ .names = NAMES("personality"), .has_arg = true, .arg_value = 0x0, .arg_op = "SCMP_CMP_EQ" },
	{ .names = NAMES("personality"), .has_arg = true, .arg_value = 0x8, .arg_op = "SCMP_CMP_EQ" },
	{ .names = NAMES("personality"), .has_arg = true, .arg_value = 0x20000,
	  .arg_op = "SCMP_CMP_EQ" },
	{ .names = NAMES("personality"), .has_arg = true, .arg_value = 0x20008,
	  .arg_op = "SCMP_CMP_EQ" },
	{ .names = NAMES("personality"), .has_arg = true, .arg_value = 0xffffffff,
	  .arg_op = "SCMP_CMP_EQ" },
	{ .names = NAMES("sync_file_range2", "swapcontext"), .arches = "ppc64le" },
	{ .names = NAMES("arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2",
			 "breakpoint", "cacheflush", "set_tls"),
	  .arches = "arm arm64" },
	{ .names = NAMES("arch_prctl"), .arches = "amd64 x32" },
	{ .names = NAMES("modify_ldt"), .arches = "amd64 x32 x86" },
	{ .names = NAMES("s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"),
	  .arches = "s390 s390x" },
	{ .names = NAMES("riscv_flush_icache"), .arches = "riscv64" },
	{ .names = NAMES("open_by_handle_at"), .caps_all = "CAP_DAC_READ_SEARCH" },
	{ .names = NAMES("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount",
			 "fsopen", "fspick", "lookup_dcookie", "mount", "mount_setattr",
			 "move_mount", "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
			 "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2",
			 "unshare"),
	  .caps_all = "CAP_SYS_ADMIN" },
	/* clone's flags are argument 0, but argument 1 on s390 */
	{ .names = NAMES("clone"), .caps_none = "CAP_SYS_ADMIN", .not_arches = "s390 s390x",
	  .has_arg = true, .arg_index = 0, .arg_value = NS_FLAGS, .arg_op = "SCMP_CMP_MASKED_EQ" },
	{ .names = NAMES("clone"), .caps_none = "CAP_SYS_ADMIN", .arches = "s390 s390x",
	  .has_arg = true, .arg_index = 1, .arg_value = NS_FLAGS, .arg_op = "SCMP_CMP_MASKED_EQ" },
	{ .names = NAMES("clone3"), .action = "SCMP_ACT_ERRNO", .errno_ret = 38 /* ENOSYS */,
	  .caps_none = "CAP_SYS_ADMIN" },
	{ .names = NAMES("reboot"), .caps_all = "CAP_SYS_BOOT" },
	{ .names = NAMES("chroot"), .caps_all = "CAP_SYS_CHROOT" },
	{ .names = NAMES("delete_module", "init_module", "finit_module"),
	  .caps_all = "CAP_SYS_MODULE" },
	{ .names = NAMES("acct"), .caps_all = "CAP_SYS_PACCT" },
	{ .names = NAMES("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv",
			 "process_vm_writev", "ptrace"),
	  .caps_all = "CAP_SYS_PTRACE" },
	{ .names = NAMES("iopl", "ioperm"), .caps_all = "CAP_SYS_RAWIO" },
	{ .names = NAMES("settimeofday", "stime", "clock_settime", "clock_settime64"),
	  .caps_all = "CAP_SYS_TIME" },
	{ .names = NAMES("vhangup"), .caps_all = "CAP_SYS_TTY_CONFIG" },
	{ .names = NAMES("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"),
	  .caps_all = "CAP_SYS_NICE" },
	{ .names = NAMES("syslog"), .caps_all = "CAP_SYSLOG" },
	{ .names = NAMES("bpf"), .caps_all = "CAP_BPF" },
	{ .names = NAMES("perf_event_open"), .caps_all = "CAP_PERFMON" },
};

/* "a b" as a JSON array ["a", "b"] */
static json_t *word_array(const char *words)
{
	cleanup_free char *copy = xstrdup(words);
	json_t *a = json_array();
	char *save = NULL;

	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
		(void)json_array_append_new(a, json_string(w));
	return a;
}

static json_t *group_to_json(const struct sc_group *g)
{
	json_t *o = json_object(), *names = json_array(), *inc = json_object(),
	       *exc = json_object();

	for (size_t i = 0; g->names[i]; i++)
		(void)json_array_append_new(names, json_string(g->names[i]));
	(void)json_object_set_new(o, "names", names);
	(void)json_object_set_new(o, "action", json_string(g->action ? g->action
								    : "SCMP_ACT_ALLOW"));
	if (g->errno_ret > 0)
		(void)json_object_set_new(o, "errnoRet", json_integer(g->errno_ret));
	if (g->has_arg)
		(void)json_object_set_new(o, "args",
					  json_pack("[{s:I, s:I, s:s}]", "index",
						    (json_int_t)g->arg_index, "value",
						    (json_int_t)g->arg_value, "op", g->arg_op));
	if (g->caps_all)
		(void)json_object_set_new(inc, "caps", word_array(g->caps_all));
	if (g->arches)
		(void)json_object_set_new(inc, "arches", word_array(g->arches));
	if (g->min_kernel)
		(void)json_object_set_new(inc, "minKernel", json_string(g->min_kernel));
	if (g->caps_none)
		(void)json_object_set_new(exc, "caps", word_array(g->caps_none));
	if (g->not_arches)
		(void)json_object_set_new(exc, "arches", word_array(g->not_arches));
	(void)json_object_set_new(o, "includes", inc);
	(void)json_object_set_new(o, "excludes", exc);
	return o;
}

json_t *seccomp_profile_default_json(void)
{
	json_t *calls = json_array();

	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		(void)json_array_append_new(calls, group_to_json(&groups[i]));
	/* the architectures docker's archMap gives each native one */
	return json_pack("{s:s, s:i, s:[{s:s, s:[s, s]}, {s:s, s:[s]}, {s:s, s:[s]}, "
			 "{s:s, s:[]}], s:o}",
			 "defaultAction", "SCMP_ACT_ERRNO", "defaultErrnoRet", 1, "archMap",
			 "architecture", "SCMP_ARCH_X86_64", "subArchitectures", "SCMP_ARCH_X86",
			 "SCMP_ARCH_X32", "architecture", "SCMP_ARCH_AARCH64", "subArchitectures",
			 "SCMP_ARCH_ARM", "architecture", "SCMP_ARCH_S390X", "subArchitectures",
			 "SCMP_ARCH_S390", "architecture", "SCMP_ARCH_RISCV64", "subArchitectures",
			 "syscalls", calls);
}
