/* Building, running and tearing down a VM (the core of `hull vm run`). */
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "vmm/api.h"
#include "vmm/devices.h"
#include "vmm/dev/i8042.h"
#include "vmm/dev/legacy.h"
#include "vmm/dev/serial.h"
#include "vmm/jail.h"
#include "vmm/kvm.h"
#include "vmm/loop.h"
#include "vmm/migrate.h"
#include "vmm/pci.h"
#include "vmm/hotplug-net.h"
#include "vmm/seccomp.h"
#include "vmm/snapshot.h"
#include "vmm/vcpu.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/fs.h"
#include "vmm/vhost-user.h"
#include "vmm/virtio/console.h"
#include "vmm/virtio/vsock.h"
#include "vmm/virtio/net.h"
#include "vmm/x86/arch.h"

#define VM_MIN_MEM (16ULL << 20)
#define VM_MIN_MEM_RAW (1ULL << 20)

void vm_config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cpus = 1;
	cfg->mem_size = 512ULL << 20;
	cfg->console = VM_CONSOLE_SERIAL;
	cfg->shutdown_timeout_s = VM_SHUTDOWN_TIMEOUT_S;
	cfg->seccomp_level = 2;
	cfg->uid = -1;
	cfg->gid = -1;
}

const char *vmm_stop_name(enum vm_stop stop)
{
	switch (stop) {
	case VM_STOP_POWEROFF: return "power-off";
	case VM_STOP_REBOOT: return "reboot";
	case VM_STOP_PANIC: return "panic";
	case VM_STOP_KILLED: return "killed";
	case VM_STOP_ERROR: return "error";
	case VM_STOP_MIGRATED: return "migrated";
	case VM_STOP_NONE:
	case VM_STOP_COUNT:
	default: return "running";
	}
}

int vmm_stop_exit_code(enum vm_stop stop)
{
	switch (stop) {
	case VM_STOP_POWEROFF: return 0;
	case VM_STOP_MIGRATED: return 0;
	case VM_STOP_REBOOT: return 3;
	case VM_STOP_PANIC: return 4;
	case VM_STOP_KILLED: return 5;
	case VM_STOP_NONE:
	case VM_STOP_ERROR:
	case VM_STOP_COUNT:
	default: return 125;
	}
}

void vm_request_stop(struct vm *vm, enum vm_stop why, const char *detail)
{
	int expected = VM_STOP_NONE;
	uint64_t one = 1;

	/* Linux reboots after a panic (hull passes panic=-1): report that as a panic. */
	if (why == VM_STOP_REBOOT && serial_saw_panic(vm->serial))
		why = VM_STOP_PANIC;
	pthread_mutex_lock(&vm->lock);
	if (atomic_compare_exchange_strong(&vm->stop, &expected, (int)why))
		(void)snprintf(vm->stop_detail, sizeof(vm->stop_detail), "%s", detail ? detail : "");
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	if (vm->stop_efd >= 0)
		(void)!write(vm->stop_efd, &one, sizeof(one));
	if (vm->vcpus)
		vcpus_kick(vm);
}

void vm_pause(struct vm *vm)
{
	unsigned running = 0;

	for (unsigned i = 0; i < vm->ncpus; i++)
		running += vm->vcpus[i].started;
	pthread_mutex_lock(&vm->lock);
	vm->paused = true;
	pthread_mutex_unlock(&vm->lock);
	vcpus_kick(vm);
	pthread_mutex_lock(&vm->lock);
	while (vm->n_parked < running && !atomic_load(&vm->stop))
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->paused = false;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

int vm_irq_line(struct vm *vm, uint32_t irq, bool level)
{
	struct kvm_irq_level l = { .irq = irq, .level = level ? 1 : 0 };

	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0 ? -errno : 0;
}

int vm_signal_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = {
		.address_lo = (uint32_t)addr,
		.address_hi = (uint32_t)(addr >> 32),
		.data = data,
	};

	return ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -errno : 0;
}

int vm_disk_rate_limit(struct vm *vm, unsigned drive, const struct ratelimit_config *c,
		       struct hull_err *err)
{
	if (ratelimit_config_check(c) < 0)
		return hull_err_setx(err, EINVAL, "drive %u: rate limit out of range", drive);
	for (unsigned i = 0; i < vm->n_devs; i++)
		if (strcmp(vm->devs[i].ops->name, "virtio-blk") == 0 && vm->devs[i].idx == drive) {
			virtio_blk_set_rate_limit(vm->devs[i].dev, c);
			return 0;
		}
	return hull_err_setx(err, ENOENT, "drive %u: no such disk (the VM has %zu)", drive,
			     vm->cfg->n_disks);
}

int vm_net_rate_limit(struct vm *vm, unsigned nic, const struct ratelimit_config *rx,
		      const struct ratelimit_config *tx, struct hull_err *err)
{
	if ((rx && ratelimit_config_check(rx) < 0) || (tx && ratelimit_config_check(tx) < 0))
		return hull_err_setx(err, EINVAL, "network interface %u: rate limit out of range",
				     nic);
	if (nic >= vm->cfg->n_nets || !vm->nics[nic])
		return hull_err_setx(err, ENOENT, "network interface %u: no such NIC (the VM has "
				     "%zu)", nic, vm->cfg->n_nets);
	if (virtio_net_is_vhost(vm->nics[nic]))
		return hull_err_setx(err, EINVAL, "network interface %u: on vhost-net (the kernel "
				     "moves its frames): rate limits need --net ...,vhost=off", nic);
	virtio_net_set_rate_limit(vm->nics[nic], rx, tx);
	return 0;
}

/* MemTotal of the host in bytes, 0 when unknown. */
static uint64_t host_mem_total(void)
{
	cleanup_fclose FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kb;
	char line[256];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			return (uint64_t)kb << 10;
	return 0;
}

static int vm_validate_balloon(const struct vm_config *cfg, struct hull_err *err)
{
	const struct vm_balloon_config *b = &cfg->balloon;

	if (!b->enabled)
		return 0;
	if (cfg->kernel_kind == VM_KERNEL_RAW)
		return hull_err_setx(err, EINVAL, "--balloon needs a Linux kernel, not a raw guest");
	if (b->amount_mib > cfg->mem_size >> 20)
		return hull_err_setx(err, EINVAL,
				     "--balloon amount_mib=%" PRIu32 ": more than --memory (%" PRIu64
				     " MiB)", b->amount_mib, cfg->mem_size >> 20);
	if (b->stats_s > VM_BALLOON_STATS_MAX_S)
		return hull_err_setx(err, EINVAL, "--balloon stats=%u: at most %u seconds",
				     b->stats_s, VM_BALLOON_STATS_MAX_S);
	return 0;
}

static int vm_validate_hotplug(const struct vm_config *cfg, uint64_t host,
			       struct hull_err *err)
{
	const struct vm_mem_hotplug_config *h = &cfg->mem_hotplug;
	uint64_t bs = h->block_size ? h->block_size : VM_MEM_HOTPLUG_BLOCK_DEFAULT;

	if (!h->size)
		return 0;
	if (cfg->kernel_kind == VM_KERNEL_RAW || cfg->restore_dir)
		return hull_err_setx(err, EINVAL, "--memory-hotplug needs a Linux kernel booted "
				     "by this VM (not a raw guest, not a restore)");
	if (bs < (2ULL << 20) || bs > (1ULL << 30) || (bs & (bs - 1)))
		return hull_err_setx(err, EINVAL, "--memory-hotplug block=%" PRIu64 " KiB: a power "
				     "of two from 2M to 1G", bs >> 10);
	if (h->size % bs || h->size > VM_MEM_HOTPLUG_MAX)
		return hull_err_setx(err, EINVAL, "--memory-hotplug %" PRIu64 " MiB: a multiple of "
				     "the block size (%" PRIu64 " MiB), at most %llu GiB",
				     h->size >> 20, bs >> 20, VM_MEM_HOTPLUG_MAX >> 30);
	if (host && h->size > host)
		return hull_err_setx(err, ENOMEM, "--memory-hotplug %" PRIu64 " MiB: larger than "
				     "the host's memory (%" PRIu64 " MiB)", h->size >> 20, host >> 20);
	return 0;
}

static int vm_validate(const struct vm_config *cfg, struct hull_err *err)
{
	uint64_t host = host_mem_total();
	uint64_t min = cfg->kernel_kind == VM_KERNEL_RAW ? VM_MIN_MEM_RAW : VM_MIN_MEM;
	struct stat st;
	int r;

	if (!cfg->kernel && !cfg->restore_dir && !cfg->incoming)
		return hull_err_setx(err, EINVAL, "--kernel is required");
	if (cfg->cpus < 1 || cfg->cpus > VM_MAX_CPUS)
		return hull_err_setx(err, EINVAL, "--cpus %u: must be 1 to %u", cfg->cpus,
				     VM_MAX_CPUS);
	if (cfg->shutdown_timeout_s < 1 || cfg->shutdown_timeout_s > VM_SHUTDOWN_TIMEOUT_MAX_S)
		return hull_err_setx(err, EINVAL, "--shutdown-timeout %u: must be 1 to %u seconds",
				     cfg->shutdown_timeout_s, VM_SHUTDOWN_TIMEOUT_MAX_S);
	if (cfg->n_disks > VM_MAX_DISKS)
		return hull_err_setx(err, EINVAL, "at most %d --disk", VM_MAX_DISKS);
	if (cfg->mem_size < min)
		return hull_err_setx(err, EINVAL, "--memory %" PRIu64 " MiB: at least %" PRIu64
				     " MiB needed", cfg->mem_size >> 20, min >> 20);
	if (cfg->mem_size & 0xfff)
		return hull_err_setx(err, EINVAL, "--memory: must be a multiple of 4 KiB");
	if (host && cfg->mem_size > host)
		return hull_err_setx(err, ENOMEM,
				     "--memory %" PRIu64 " MiB: larger than the host's memory (%" PRIu64
				     " MiB)", cfg->mem_size >> 20, host >> 20);
	if (cfg->kernel_kind == VM_KERNEL_RAW && cfg->n_disks)
		return hull_err_setx(err, EINVAL, "--disk needs a Linux kernel, not a raw guest");
	if (cfg->vsock && !cfg->vsock_auto &&
	    (cfg->vsock_cid < VSOCK_CID_MIN || cfg->vsock_cid > VSOCK_CID_MAX))
		return hull_err_setx(err, EINVAL, "--vsock %" PRIu64 ": a guest CID is %u to %u, or auto",
				     cfg->vsock_cid, VSOCK_CID_MIN, VSOCK_CID_MAX);
	if (cfg->kernel_kind == VM_KERNEL_RAW && cfg->vsock)
		return hull_err_setx(err, EINVAL, "--vsock needs a Linux kernel, not a raw guest");
	r = virtio_net_config_check(cfg, err);
	if (r < 0)
		return r;
	if (cfg->kernel_kind == VM_KERNEL_RAW && cfg->console == VM_CONSOLE_VIRTIO)
		return hull_err_setx(err, EINVAL,
				     "--console virtio needs a Linux kernel, not a raw guest");
	r = vm_validate_balloon(cfg, err);
	if (r < 0)
		return r;
	r = vm_validate_hotplug(cfg, host, err);
	if (r < 0)
		return r;
	r = virtio_fs_config_check(cfg, err);
	if (r < 0)
		return r;
	if (cfg->incoming && migrate_addr_check(cfg->incoming, err) < 0)
		return hull_err_prefix(err, "--incoming");
	if (cfg->seccomp_level > 2)
		return hull_err_setx(err, EINVAL, "--seccomp-level %u: expected 0, 1 or 2",
				     cfg->seccomp_level);
	r = vmm_jail_check(cfg, err);
	if (r < 0)
		return r;
	/* a restore loads none, nor does a migration's destination */
	r = cfg->restore_dir || cfg->incoming ? 0 : arch_kernel_check(cfg, err);
	if (r < 0)
		return r;
	if (cfg->initrd && stat(cfg->initrd, &st) < 0)
		return hull_err_set(err, errno, "--initrd %s", cfg->initrd);
	for (size_t i = 0; i < cfg->n_disks; i++) {
		const struct vm_disk_config *d = &cfg->disks[i];

		if (!d->path || !*d->path)
			return hull_err_setx(err, EINVAL, "--disk: empty path");
		if (d->format != DISK_FORMAT_RAW && d->format != DISK_FORMAT_QCOW2)
			return hull_err_setx(err, EINVAL, "--disk %s: format: expected raw or qcow2",
					     d->path);
		if (d->serial && strlen(d->serial) > VM_DISK_SERIAL_MAX)
			return hull_err_setx(err, EINVAL, "--disk %s: serial=%s: at most %u bytes",
					     d->path, d->serial, VM_DISK_SERIAL_MAX);
		if (stat(d->path, &st) < 0)
			return hull_err_set(err, errno, "--disk %s", d->path);
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
			return hull_err_setx(err, EINVAL, "--disk %s: not a file or block device",
					     d->path);
		/* Root may write to any file: one without write permission is read-only. */
		if (!d->readonly && !(st.st_mode & 0222))
			return hull_err_setx(err, EROFS,
					     "--disk %s: the file is read-only (mode %04o): add ,ro",
					     d->path, st.st_mode & 07777);
	}
	return 0;
}

static void vm_on_stop_efd(void *opaque, int fd, uint32_t events)
{
	uint64_t v;

	(void)!read(fd, &v, sizeof(v));
}

int vm_request_shutdown(struct vm *vm)
{
	unsigned secs = vm->cfg->shutdown_timeout_s;
	struct itimerspec its = { .it_value = { .tv_sec = (time_t)secs } };

	vm_resume(vm); /* a paused guest could not act on it */
	i8042_ctrl_alt_del(vm->kbd);
	if (vm->shutdown_requested)
		return 0;
	vm->shutdown_requested = true;
	log_debug("shutdown requested: Ctrl-Alt-Del pressed, %u s to power off", secs);
	if (timerfd_settime(vm->shutdown_tfd, 0, &its, NULL) < 0)
		return -errno;
	return 0;
}

static void vm_on_shutdown_timer(void *opaque, int fd, uint32_t events)
{
	struct vm *vm = opaque;
	char detail[96];
	uint64_t n;

	(void)!read(fd, &n, sizeof(n));
	(void)snprintf(detail, sizeof(detail),
		       "the guest did not power off within %u s of the shutdown request",
		       vm->cfg->shutdown_timeout_s);
	vm_request_stop(vm, VM_STOP_KILLED, detail);
}

/* SIGTERM: the first asks the guest to shut down, a second one stops the VM at once. */
static void vm_on_signal(void *opaque, int fd, uint32_t events)
{
	struct vm *vm = opaque;
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	if (vm->shutdown_requested) {
		vm_request_stop(vm, VM_STOP_KILLED, "a second SIGTERM");
		return;
	}
	if (vm_request_shutdown(vm) < 0)
		vm_request_stop(vm, VM_STOP_KILLED, "SIGTERM (no shutdown timer)");
}

static void vm_on_stdin(void *opaque, int fd, uint32_t events)
{
	struct vm *vm = opaque;
	uint8_t buf[256];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n <= 0) {
		/* EOF or error: stop watching (the guest simply gets no more input). */
		(void)evloop_del(vm->loop, fd);
		return;
	}
	if (vm->vcon)
		(void)virtio_console_input(vm->vcon, buf, (size_t)n);
	else
		(void)serial_input(vm->serial, buf, (size_t)n);
}

/* SIGTERM through a signalfd (vmm_run blocks it before any thread starts), and its timer. */
static int vm_signals_watch(struct vm *vm, struct hull_err *err)
{
	sigset_t set;
	int r;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	vm->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	vm->shutdown_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (vm->sig_fd < 0 || vm->shutdown_tfd < 0)
		return hull_err_set(err, errno, "signalfd/timerfd");
	r = evloop_add(vm->loop, vm->sig_fd, EPOLLIN, vm_on_signal, vm);
	if (r == 0)
		r = evloop_add(vm->loop, vm->shutdown_tfd, EPOLLIN, vm_on_shutdown_timer, vm);
	if (r < 0)
		return hull_err_set(err, -r, "event loop");
	return 0;
}

/* --vsock: the device and the guest's CID before KVM, so a CID in use fails on every host. */
static int vm_vsock_open(struct vm *vm, struct hull_err *err)
{
	uint64_t seed = 0;

	if (!vm->cfg->vsock)
		return 0;
	/* auto: a random start, so that VMs starting together rarely try the same CIDs */
	if (vm->cfg->vsock_auto && getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = vm_now_ns() ^ (uint64_t)getpid();
	vm->vsock_fd = vsock_open(VSOCK_DEV_PATH, (uint32_t)vm->cfg->vsock_cid, vm->cfg->vsock_auto,
				  seed, &vm->vsock_cid, err);
	return vm->vsock_fd < 0 ? vm->vsock_fd : 0;
}

/*
 * Everything that needs no KVM, done before /dev/kvm is opened: the user hears about a typo
 * in --disk, a truncated kernel or a taken --api-sock on every host, including one without
 * KVM. Opens the disks (vm->disks), loads the kernel and initrd into guest memory (the file
 * checks that only a full load can make), and binds the API socket.
 */
static int vm_prepare(struct vm *vm, struct hull_err *err)
{
	const struct vm_config *cfg = vm->cfg;
	int r;

	if (cfg->restore_dir) {
		r = snapshot_memory_map(vm, err); /* the snapshot's RAM, copy-on-write */
		if (r < 0)
			return r;
	} else {
		r = gmem_init_shared(&vm->mem, cfg->mem_size, cfg->n_fs > 0); /* vhost-user maps it */
	}
	if (r < 0)
		return hull_err_set(err, -r, "allocating %" PRIu64 " MiB of guest memory",
				    cfg->mem_size >> 20);
	if (cfg->mem_hotplug.size && (r = gmem_hotplug_init(&vm->mem, cfg->mem_hotplug.size)) < 0)
		return hull_err_set(err, -r, "--memory-hotplug: reserving %" PRIu64 " MiB",
				    cfg->mem_hotplug.size >> 20);
	vm->disks = xcalloc(cfg->n_disks ? cfg->n_disks : 1, sizeof(*vm->disks));
	/* a migration's destination opens them at the stop-and-copy (migrate-disks.c) */
	for (size_t i = 0; !cfg->incoming && i < cfg->n_disks; i++) {
		r = virtio_blk_open_disk(&cfg->disks[i], &vm->disks[i], err);
		if (r < 0)
			return r;
	}
	r = vm_vsock_open(vm, err);
	if (r < 0)
		return r;
	/* --fs: before KVM too, so that a missing backend is one line on every host */
	for (size_t i = 0; i < cfg->n_fs; i++, vm->fs_open++) {
		vm->fs_sock[i] = vhost_user_connect(cfg->fs[i].socket);
		if (vm->fs_sock[i] < 0)
			return hull_err_set(err, -vm->fs_sock[i], "--fs tag=%s: socket %s",
					    cfg->fs[i].tag, cfg->fs[i].socket);
	}
	/* The taps too, before KVM: a wrong --net is one line on every host. */
	vm->net_be = xcalloc(cfg->n_nets ? cfg->n_nets : 1, sizeof(*vm->net_be));
	for (size_t i = 0; i < cfg->n_nets; i++) {
		r = virtio_net_backend_open(&cfg->nets[i], virtio_net_pairs(cfg, i),
					    &vm->net_be[i], err);
		if (r < 0)
			return r;
	}
	vm->load_ns = vm_now_ns();
	r = cfg->restore_dir || cfg->incoming ? 0 : arch_load(vm, err);
	vm->load_ns = vm_now_ns() - vm->load_ns;
	if (r < 0)
		return r;
	vm->loop = evloop_new();
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!vm->loop || vm->stop_efd < 0)
		return hull_err_set(err, errno, "event loop");
	r = evloop_add(vm->loop, vm->stop_efd, EPOLLIN, vm_on_stop_efd, vm);
	if (r < 0)
		return hull_err_set(err, -r, "event loop");
	r = vm_signals_watch(vm, err);
	if (r < 0)
		return r;
	if (cfg->api_sock)
		return api_server_create(vm, cfg->api_sock, &vm->api, err);
	return 0;
}

/* Then KVM: the VM, its devices (the disks opened by vm_prepare) and its vCPUs. */
static int vm_build(struct vm *vm, struct hull_err *err)
{
	const struct vm_config *cfg = vm->cfg;
	int r;

	vm->kvm_fd = kvm_open(NULL, cfg->allow_pvm, err);
	if (vm->kvm_fd < 0)
		return vm->kvm_fd;
	r = kvm_vm_create(vm, err);
	if (r < 0)
		return r;
	r = vm_devices_create(vm, err);
	if (r == 0 && cfg->n_hotplug_nets)
		r = vm_net_hotplug_restore(vm, err); /* a restore's, in their slots (before state) */
	if (r < 0)
		return r;
	/* After the devices: input goes to the virtio console when there is one. */
	if (cfg->console != VM_CONSOLE_NONE)
		(void)evloop_add(vm->loop, STDIN_FILENO, EPOLLIN, vm_on_stdin, vm);
	r = vcpus_create(vm, err);
	if (r == 0 && cfg->restore_dir)
		r = snapshot_state_load(vm, err); /* over the fresh vCPUs and devices */
	if (r == 0 && cfg->incoming)
		r = migrate_incoming(vm, err); /* RAM and state from the source (migrate.h) */
	return r;
}

uint64_t vm_now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

const char *vm_exit_kind_name(enum vm_exit_kind k)
{
	switch (k) {
	case VM_EXIT_IO_SERIAL: return "io-serial";
	case VM_EXIT_IO_PCI: return "io-pci-config";
	case VM_EXIT_IO_OTHER: return "io-other";
	case VM_EXIT_MMIO: return "mmio";
	case VM_EXIT_OTHER: return "other";
	case VM_EXIT_KIND_COUNT:
	default: return "unknown";
	}
}

/* After the vCPU threads have joined: their counters are stable. */
static void vm_stats_collect(struct vm *vm, struct vm_stats *st, uint64_t t0, uint64_t t_start)
{
	uint64_t first = atomic_load(&vm->first_output_ns);

	memset(st, 0, sizeof(*st));
	st->build_ns = t_start - t0;
	st->load_ns = vm->load_ns;
	st->run_ns = vm_now_ns() - t_start;
	st->first_output_ns = first > t_start ? first - t_start : 0;
	for (unsigned i = 0; vm->vcpus && i < vm->ncpus; i++)
		for (unsigned k = 0; k < VM_EXIT_KIND_COUNT; k++)
			st->exits[k] += vm->vcpus[i].exits[k];
	st->msi_irqfd = atomic_load(&vm->n_msi_irqfd);
	st->msi_ioctl = atomic_load(&vm->n_msi_ioctl);
	(void)snprintf(st->stop_detail, sizeof(st->stop_detail), "%s", vm->stop_detail);
}

static void vm_free(struct vm *vm)
{
	snapshot_chain_free(vm);
	api_server_free(vm->api);
	vm_devices_free(vm); /* in reverse order of creation */
	vm_net_hotplug_free(vm);
	for (size_t i = 0; vm->disks && i < vm->cfg->n_disks; i++)
		disk_close(vm->disks[i]); /* those no device took over */
	free(vm->disks);
	for (size_t i = 0; vm->net_be && i < vm->cfg->n_nets; i++)
		virtio_net_backend_close(&vm->net_be[i]); /* those no device took over */
	free(vm->net_be);
	vcpus_free(vm);
	evloop_free(vm->loop);
	if (vm->vsock_fd >= 0)
		(void)close(vm->vsock_fd);
	for (unsigned i = 0; i < vm->fs_open; i++)
		if (vm->fs_sock[i] >= 0)
			(void)close(vm->fs_sock[i]); /* those no device took over */
	if (vm->stop_efd >= 0)
		(void)close(vm->stop_efd);
	if (vm->sig_fd >= 0)
		(void)close(vm->sig_fd);
	if (vm->shutdown_tfd >= 0)
		(void)close(vm->shutdown_tfd);
	if (vm->vm_fd >= 0)
		(void)close(vm->vm_fd);
	irq_routing_release(&vm->irq);
	if (vm->kvm_fd >= 0)
		(void)close(vm->kvm_fd);
	gmem_release(&vm->mem);
	pthread_mutex_destroy(&vm->lock);
	pthread_cond_destroy(&vm->cond);
}

/*
 * The main thread's seccomp filter, last: every thread exists (the vCPUs and the devices' I/O
 * threads have filtered themselves), so none inherits this one.
 */
static int vm_confine_main(struct vm *vm, struct hull_err *err)
{
	int r = vmm_seccomp_install(vm->cfg, VMM_THREAD_MAIN);

	if (r < 0)
		return hull_err_set(err, -r, "seccomp filter of the main thread");
	if (vm->cfg->test_seccomp_probe)
		vmm_seccomp_probe();
	return 0;
}

int vmm_run(const struct vm_config *cfg, enum vm_stop *ret_stop, struct hull_err *err)
{
	struct vm vm = { .cfg = cfg, .kvm_fd = -1, .vm_fd = -1, .stop_efd = -1, .sig_fd = -1,
			 .vsock_fd = -1,
			 .shutdown_tfd = -1, .ncpus = cfg->cpus };
	sigset_t term, old;
	int r;

	uint64_t t0 = vm_now_ns(), t_start = 0;

	/* SIGTERM goes to the signalfd: blocked here, before any vCPU thread inherits a mask. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	(void)pthread_sigmask(SIG_BLOCK, &term, &old);
	pthread_mutex_init(&vm.lock, NULL);
	pthread_cond_init(&vm.cond, NULL);
	/*
	 * Nothing the VMM runs may gain privileges (it execs nothing): set before any thread
	 * exists, so that every thread inherits it, filtered or not.
	 */
	/*
	 * glibc reads /etc/localtime on the first time conversion, even gmtime_r's (the RTC's):
	 * here, before the filters forbid opening files and the jail hides it.
	 */
	tzset();
	/* jansson seeds its hash tables from /dev/urandom on the first object: the API's */
	json_object_seed(0);
	r = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? hull_err_set(err, errno, "no_new_privs") : 0;
	if (r == 0)
		r = vm_validate(cfg, err);
	if (r == 0)
		r = vm_prepare(&vm, err);
	if (r == 0)
		r = vm_build(&vm, err);
	if (r == 0)
		r = vmm_jail_enter(cfg, err);
	if (r == 0) {
		t_start = vm_now_ns();
		vm.paused = cfg->start_paused; /* the vCPUs park at once, until "resume" */
		r = vcpus_start(&vm, err);
	}
	if (r == 0)
		r = vm_confine_main(&vm, err);
	if (r == 0) {
		r = evloop_run(vm.loop, &vm.stop);
		if (r < 0)
			vm_request_stop(&vm, VM_STOP_ERROR, "event loop failed");
		r = 0;
	}
	if (r < 0)
		vm_request_stop(&vm, VM_STOP_ERROR, err->msg);
	vcpus_join(&vm);
	if (cfg->stats && t_start)
		vm_stats_collect(&vm, cfg->stats, t0, t_start);
	*ret_stop = (enum vm_stop)atomic_load(&vm.stop);
	if (r == 0 && *ret_stop == VM_STOP_ERROR)
		r = hull_err_setx(err, EIO, "the VM stopped on an error: %s", vm.stop_detail);
	log_debug("vm stopped: %s (%s)", vmm_stop_name(*ret_stop), vm.stop_detail);
	vm_free(&vm);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}
