/*
 * Seccomp filters per thread kind (seccomp.h). One table per kind below, plus the tables all
 * kinds share: a device that needs a syscall after the VM is built adds it HERE, in the table
 * of the thread that makes it (docs/vmm.md, "Confinement"), and nowhere else.
 *
 * The default action kills the process (SCMP_ACT_KILL_PROCESS), as Firecracker's filters do:
 * a syscall outside the tables means the VMM is doing what it was never built to do (a bug or
 * a guest that took control of it), and an EPERM would let that code probe on and continue
 * with a half-working VMM. A missed syscall is loud (SIGSYS, an audit record) instead of a
 * silent failure. --seccomp-level 0 (--no-seccomp) turns the filters off for debugging.
 */
#include "vmm/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/vhost.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/vmm.h"

struct seccomp_rule {
	int nr;         /* SCMP_SYS(name) */
	int arg;        /* -1: any arguments; else allowed when (argument & mask) == value */
	uint64_t mask, value;
};

#define ANY(name) { SCMP_SYS(name), -1, 0, 0 }
/* ioctl's request is an int in the kernel: compare the low 32 bits only */
#define IOCTL(req) { SCMP_SYS(ioctl), 1, 0xffffffffULL, (uint32_t)(req) }
/* mappings and protections without PROT_EXEC: no new code after the build */
#define NOEXEC(name) { SCMP_SYS(name), 2, PROT_EXEC, 0 }
/* opens that create a new file (O_CREAT|O_EXCL: a snapshot's), never of an existing one */
#define CREATE_ONLY(name) { SCMP_SYS(name), 2, O_CREAT | O_EXCL, O_CREAT | O_EXCL }
#define END { -1, 0, 0, 0 }

/* Every thread: memory, locks, signals, time, eventfd reads and writes, exiting. */
static const struct seccomp_rule common_rules[] = {
	ANY(futex), ANY(restart_syscall), ANY(rt_sigreturn), ANY(rt_sigprocmask),
	ANY(exit), ANY(exit_group), ANY(brk), ANY(munmap), ANY(mremap), ANY(madvise),
	NOEXEC(mmap), NOEXEC(mprotect),
	ANY(clock_gettime), ANY(clock_nanosleep), ANY(nanosleep), ANY(gettid), ANY(getpid),
	ANY(tgkill),      /* kicking vCPUs out of KVM_RUN (pthread_kill); abort() */
	ANY(sched_yield), ANY(getrandom), /* getrandom: virtio-rng */
	ANY(read), ANY(write), ANY(readv), ANY(writev), /* eventfds, the console, taps */
	ANY(close),
	END,
};

/*
 * Interrupts and device ioctls, from any thread: a device raises an interrupt (and moves its
 * MSI-X routes) on whichever thread serves it, and a driver's feature or status write on a
 * vCPU exit sets up a tap or a vhost backend. The fds these act on were all opened during
 * the build.
 */
static const struct seccomp_rule device_rules[] = {
	IOCTL(KVM_IRQ_LINE), IOCTL(KVM_SIGNAL_MSI), IOCTL(KVM_SET_GSI_ROUTING), IOCTL(KVM_IRQFD),
	IOCTL(KVM_IOEVENTFD),
	/* virtio-net on a tap (net16): offloads and the vnet header, queue pairs */
	IOCTL(TUNSETOFFLOAD), IOCTL(TUNSETVNETHDRSZ), IOCTL(TUNGETVNETHDRSZ), IOCTL(TUNSETQUEUE),
	IOCTL(TUNGETIFF), IOCTL(TUNSETSNDBUF),
	/* vhost backends (vsock16: vhost.c; vhost-net, vhost-vsock) */
	IOCTL(VHOST_GET_FEATURES), IOCTL(VHOST_SET_FEATURES), IOCTL(VHOST_SET_OWNER),
	IOCTL(VHOST_RESET_OWNER), IOCTL(VHOST_SET_MEM_TABLE), IOCTL(VHOST_SET_VRING_NUM),
	IOCTL(VHOST_SET_VRING_BASE), IOCTL(VHOST_GET_VRING_BASE), IOCTL(VHOST_SET_VRING_ADDR),
	IOCTL(VHOST_SET_VRING_KICK), IOCTL(VHOST_SET_VRING_CALL), IOCTL(VHOST_SET_VRING_ERR),
	IOCTL(VHOST_NET_SET_BACKEND), IOCTL(VHOST_VSOCK_SET_GUEST_CID),
	IOCTL(VHOST_VSOCK_SET_RUNNING),
	/* vhost-user backends (vmfs18: vhost-user.c): requests and replies on their socket */
	ANY(sendmsg), ANY(recvfrom),
	END,
};

/*
 * A vCPU: KVM_RUN, and the registers read for a stop's detail (triple fault). A driver's
 * status or feature write lands on the vCPU that made it, and a device may (re)arm its fds on
 * its loop or its timer there (virtio-net's rx watch on reset, a rate limiter's timer).
 */
static const struct seccomp_rule vcpu_rules[] = {
	IOCTL(KVM_RUN), IOCTL(KVM_GET_REGS), IOCTL(KVM_GET_SREGS),
	ANY(epoll_ctl), ANY(timerfd_settime), ANY(timerfd_gettime),
	END,
};

/*
 * Disk I/O (src/disk: raw and qcow2, whose L2 tables and refcounts grow the file) and the
 * balloon's page release; the main thread closes (and so flushes) the disks at the end.
 */
static const struct seccomp_rule disk_rules[] = {
	ANY(pread64), ANY(pwrite64), ANY(preadv), ANY(pwritev), ANY(preadv2), ANY(pwritev2),
	ANY(fdatasync), ANY(fsync), ANY(fallocate), ANY(ftruncate), ANY(lseek),
	ANY(fstat), ANY(newfstatat),
	IOCTL(BLKDISCARD), IOCTL(BLKZEROOUT),
	END,
};

/* An event loop: epoll and the timers on it (the rate limiters' resume timer). */
static const struct seccomp_rule loop_rules[] = {
	ANY(epoll_wait), ANY(epoll_pwait), ANY(epoll_ctl), ANY(timerfd_settime),
	ANY(timerfd_gettime),
	END,
};

/* An I/O thread: a device's own loop, its disk I/O. */
static const struct seccomp_rule io_rules[] = {
	END,
};

/*
 * The main thread: the API socket (accept, receive, send, peer credentials), signals and
 * timers, and the teardown: joining threads, closing disks, removing the API socket, stdio
 * (glibc checks whether stdout is a terminal: TCGETS) and exit. FIONREAD, FIONBIO: what an
 * HTTP server (api16) may ask of its sockets.
 */
static const struct seccomp_rule main_rules[] = {
	ANY(accept4), ANY(accept), ANY(recvfrom), ANY(sendto), ANY(recvmsg), ANY(sendmsg),
	ANY(shutdown), ANY(getsockopt), ANY(fcntl),
	ANY(unlink), ANY(unlinkat),
	IOCTL(TCGETS), IOCTL(FIONREAD), IOCTL(FIONBIO),
	END,
};

/*
 * A snapshot (the API's, on the main thread: snapshot.c): the directory and its files made
 * under temporary names then renamed (the only paths the VMM opens once confined: with
 * --chroot they are inside the jail), the disks' absolute paths (realpath), and every vCPU's
 * and the platform's state read from KVM (x86/cpu-state.c).
 */
static const struct seccomp_rule snapshot_rules[] = {
	ANY(mkdir), ANY(mkdirat), CREATE_ONLY(openat), ANY(rename), ANY(renameat), ANY(renameat2),
	ANY(readlink), ANY(readlinkat), ANY(getcwd),
	IOCTL(KVM_CHECK_EXTENSION), IOCTL(KVM_GET_MSR_INDEX_LIST), IOCTL(KVM_GET_MSRS),
	IOCTL(KVM_GET_MP_STATE), IOCTL(KVM_GET_REGS), IOCTL(KVM_GET_SREGS),
	IOCTL(KVM_GET_SREGS2), IOCTL(KVM_GET_XSAVE), IOCTL(KVM_GET_XSAVE2), IOCTL(KVM_GET_FPU),
	IOCTL(KVM_GET_XCRS), IOCTL(KVM_GET_DEBUGREGS), IOCTL(KVM_GET_LAPIC),
	IOCTL(KVM_GET_VCPU_EVENTS), IOCTL(KVM_GET_CLOCK), IOCTL(KVM_GET_PIT2),
	IOCTL(KVM_GET_IRQCHIP),
	/* a live migration's and a diff snapshot's dirty log (dirty.c), the CPUID it offers */
	IOCTL(KVM_SET_USER_MEMORY_REGION), IOCTL(KVM_GET_DIRTY_LOG), IOCTL(KVM_GET_SUPPORTED_CPUID),
	END,
};

/*
 * --hotplug (hotplug-net.c, on the main thread): a NIC's tap (opened with exactly the flags
 * of tap.c: at level 2 no other open of an existing file), its eventfds, epoll set, timer,
 * and I/O thread, which filters itself (no_new_privs, seccomp) before it serves anything.
 */
static const struct seccomp_rule hotplug_rules[] = {
	{ SCMP_SYS(openat), 2, 0xffffffffULL, O_RDWR | O_NONBLOCK | O_CLOEXEC },
	IOCTL(TUNSETIFF), IOCTL(SIOCGIFINDEX),
	ANY(eventfd2), ANY(epoll_create1), ANY(timerfd_create),
	ANY(clone3), ANY(clone), ANY(set_robust_list), ANY(rseq), ANY(prctl), ANY(seccomp),
	END,
};

static const struct seccomp_rule *const kind_tables[VMM_THREAD_KIND_COUNT][6] = {
	[VMM_THREAD_MAIN] = { common_rules, device_rules, disk_rules, loop_rules, main_rules,
			      snapshot_rules },
	[VMM_THREAD_VCPU] = { common_rules, device_rules, vcpu_rules, NULL, NULL, NULL },
	[VMM_THREAD_IO] = { common_rules, device_rules, disk_rules, loop_rules, io_rules, NULL },
};

const char *vmm_thread_kind_name(enum vmm_thread_kind kind)
{
	switch (kind) {
	case VMM_THREAD_MAIN: return "main";
	case VMM_THREAD_VCPU: return "vcpu";
	case VMM_THREAD_IO: return "io";
	case VMM_THREAD_KIND_COUNT:
	default: return "unknown";
	}
}

static int rule_add(scmp_filter_ctx ctx, const struct seccomp_rule *r, unsigned level)
{
	int ret;

	if (r->arg < 0 || level < 2)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 0);
	else
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 1,
				       SCMP_CMP((unsigned)r->arg, SCMP_CMP_MASKED_EQ, r->mask,
						r->value));
	/* the same syscall twice (level 1 drops the arguments): already allowed */
	return ret == -EEXIST ? 0 : ret;
}

/*
 * glibc's setuid/setgid/setgroups run the syscall on every thread (nptl's setxid broadcast):
 * an I/O thread, already filtered when the jail is entered, may make exactly the jail's.
 */
static int jail_rules_add(scmp_filter_ctx ctx, const struct vm_config *cfg)
{
	int r = 0;

	if (cfg->gid >= 0 || cfg->uid >= 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setgroups), 1,
				     SCMP_A0(SCMP_CMP_EQ, 0));
	if (r == 0 && cfg->gid >= 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setgid), 1,
				     SCMP_A0(SCMP_CMP_EQ, (uint64_t)cfg->gid));
	if (r == 0 && cfg->uid >= 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setuid), 1,
				     SCMP_A0(SCMP_CMP_EQ, (uint64_t)cfg->uid));
	return r;
}

/*
 * The tap's name is looked up first (tap.c: if_nametoindex, whose ioctl needs a socket:
 * glibc makes an AF_UNIX datagram one). At level 2 only that socket; it connects nowhere.
 */
static int hotplug_rules_add(scmp_filter_ctx ctx, unsigned level)
{
	int r = 0;

	for (const struct seccomp_rule *rule = hotplug_rules; r == 0 && rule->nr != -1; rule++)
		r = rule_add(ctx, rule, level);
	if (r == 0 && level < 2)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 0);
	else if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
				     SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
				     SCMP_A1(SCMP_CMP_EQ, SOCK_DGRAM | SOCK_CLOEXEC));
	return r == -EEXIST ? 0 : r;
}

int vmm_seccomp_install(const struct vm_config *cfg, enum vmm_thread_kind kind)
{
	scmp_filter_ctx ctx;
	int r = 0;

	/* no configuration: a unit test's device without a VM behind it */
	if (!cfg || cfg->seccomp_level == 0)
		return 0;
	if ((unsigned)kind >= VMM_THREAD_KIND_COUNT)
		return -EINVAL;
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	for (size_t t = 0; r == 0 && t < 6 && kind_tables[kind][t]; t++)
		for (const struct seccomp_rule *rule = kind_tables[kind][t]; r == 0 && rule->nr != -1;
		     rule++)
			r = rule_add(ctx, rule, cfg->seccomp_level);
	if (r == 0 && kind == VMM_THREAD_IO)
		r = jail_rules_add(ctx, cfg);
	if (r == 0 && kind == VMM_THREAD_MAIN && cfg->hotplug)
		r = hotplug_rules_add(ctx, cfg->seccomp_level);
	/* seccomp_load sets no_new_privs first (SCMP_FLTATR_CTL_NNP is on by default) */
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r == 0)
		log_debug("seccomp: %s thread filtered (level %u)", vmm_thread_kind_name(kind),
			  cfg->seccomp_level);
	return r < 0 ? r : 0;
}

void vmm_seccomp_probe(void)
{
	/* a new socket: no thread kind may make one at any level (the API's is made before) */
	long fd = syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0)
		(void)close((int)fd);
}
