/* Snapshot a running VM into a directory; the restore side's file readers (snapshot.h). */
#include "vmm/snapshot.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/mac.h"
#include "vmm/devices.h"
#include "vmm/hotplug-net.h"
#include "vmm/state.h"
#include "vmm/vm.h"
#include "vmm/x86/arch.h"

#define SNAP_CHUNK (2ULL << 20) /* zero test granule first (a THP's size) */
#define SNAP_PAGE 4096ULL       /* then page by page */

static const char *const console_names[VM_CONSOLE_COUNT] = {
	[VM_CONSOLE_SERIAL] = "serial", [VM_CONSOLE_NONE] = "none", [VM_CONSOLE_VIRTIO] = "virtio",
};

/* All zero: the first 8 bytes are, and every byte equals the one 8 before it. */
static bool is_zero(const uint8_t *p, size_t n)
{
	static const uint8_t z[8];

	return memcmp(p, z, 8) == 0 && memcmp(p, p + 8, n - 8) == 0;
}

static int pwrite_all(int fd, const uint8_t *p, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Guest RAM into fd (already size bytes long: a hole), skipping pages of zeros. */
static int memory_write_fd(const struct guest_mem *m, int fd)
{
	for (uint64_t off = 0; off < m->size; off += SNAP_CHUNK) {
		uint64_t n = m->size - off < SNAP_CHUNK ? m->size - off : SNAP_CHUNK;
		uint64_t run = 0, pg;
		int r;

		if (is_zero(m->host + off, n))
			continue;
		/* runs of non-zero pages, one pwrite each */
		for (pg = 0; pg <= n; pg += SNAP_PAGE) {
			if (pg < n && !is_zero(m->host + off + pg, SNAP_PAGE))
				continue;
			if (pg > run) {
				r = pwrite_all(fd, m->host + off + run, pg - run, (off_t)(off + run));
				if (r < 0)
					return r;
			}
			run = pg + SNAP_PAGE;
		}
	}
	return 0;
}

/* A file of dir under a temporary name, then renamed: fill is called with the fd. */
static int write_file(const char *dir, const char *name, int (*fill)(int fd, const void *arg),
		      const void *arg, struct hull_err *err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, name);
	cleanup_free char *tmp = NULL;
	cleanup_close int fd = fd_tmp_create_beside(AT_FDCWD, path, 0600, &tmp);
	int r;

	if (fd < 0)
		return hull_err_set(err, -fd, "%s", path);
	r = fill(fd, arg);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		return hull_err_set(err, -r, "%s", path);
	}
	return 0;
}

static int fill_memory(int fd, const void *arg)
{
	const struct guest_mem *m = arg;

	if (ftruncate(fd, (off_t)m->size) < 0)
		return -errno;
	return memory_write_fd(m, fd);
}

struct blob {
	const void *p;
	size_t len;
};

static int fill_blob(int fd, const void *arg)
{
	const struct blob *b = arg;

	return fd_write_all(fd, b->p, b->len);
}

/* A disk's path as an absolute one: the restore may run from another directory. */
static json_t *config_disk_json(const struct vm_disk_config *d)
{
	char abs[PATH_MAX];
	const char *path = realpath(d->path, abs) ? abs : d->path;

	return json_pack("{s:s, s:b, s:s, s:s?}", "path", path, "readonly", d->readonly,
			 "format", disk_format_name(d->format), "serial", d->serial);
}

static char *config_dump(const struct vm_config *cfg, const struct snapshot_ident *ident,
			 json_t *hot)
{
	cleanup_json json_t *root = NULL;
	json_t *disks = json_array(), *nets = json_array();

	for (size_t i = 0; i < cfg->n_disks; i++)
		json_array_append_new(disks, config_disk_json(&cfg->disks[i]));
	for (size_t i = 0; i < cfg->n_nets; i++) {
		const struct vm_net_config *n = &cfg->nets[i];
		char mac[MAC_STR_LEN];

		mac_format(n->mac, mac);
		json_array_append_new(nets, json_pack("{s:s, s:s?, s:i, s:s}", "tap", n->tap, "mac",
						      n->mac_set ? mac : NULL, "queues",
						      (int)n->queues, "vhost",
						      vm_net_vhost_name(n->vhost)));
	}
	root = json_pack("{s:i, s:i, s:I, s:b, s:s?, s:s, s:b, s:i, s:o, s:o}", "version",
			 SNAPSHOT_CONFIG_VERSION, "cpus", (int)cfg->cpus, "memory",
			 (json_int_t)cfg->mem_size, "raw", cfg->kernel_kind == VM_KERNEL_RAW,
			 "cmdline", cfg->cmdline, "console", console_names[cfg->console], "rng",
			 cfg->rng, "shutdown_timeout", (int)cfg->shutdown_timeout_s, "disks", disks,
			 "nets", nets);
	if (ident && ident->id[0])
		json_object_set_new(root, "id", json_string(ident->id));
	if (ident && ident->parent) {
		json_object_set_new(root, "parent", json_string(ident->parent));
		json_object_set_new(root, "parent_id", json_string(ident->parent_id));
	}
	snapshot_config_devices(cfg, root);
	if (hot) /* hot-plugged NICs (hotplug-net.h): a restore builds them in their slots */
		json_object_set_new(root, "hotplug_nets", hot);
	return hjson_dump(root, JSON_INDENT(2));
}

int snapshot_state_build(struct vm *vm, struct state_writer *w, struct hull_err *err)
{
	int r;

	state_writer_init(w);
	r = arch_state_save(vm, w, err);
	if (r == 0 && vm_devices_save(vm, w) < 0)
		r = hull_err_set(err, -w->err, "device state");
	if (r == 0 && state_writer_finish(w) < 0)
		r = hull_err_set(err, -w->err, "state stream");
	/* the file's own CRC after the stream: sections' ids are outside theirs */
	if (r == 0)
		state_put_u32(w, (uint32_t)crc32(0L, w->buf, (uInt)w->len));
	if (r == 0 && w->err)
		r = hull_err_set(err, -w->err, "state stream");
	if (r < 0)
		state_writer_release(w);
	return r;
}

int snapshot_write_files(struct vm *vm, const char *dir, const struct snapshot_ident *ident,
			 int (*fill_mem)(int fd, const void *arg), const void *mem_arg,
			 struct hull_err *err)
{
	struct state_writer w;
	cleanup_free char *conf = NULL;
	struct blob b;
	int r;

	r = snapshot_state_build(vm, &w, err);
	if (r < 0) {
		vm_devices_thaw(vm);
		return r;
	}
	/* memory first, state last: a state file never stands beside older memory */
	r = write_file(dir, SNAPSHOT_MEMORY, fill_mem ? fill_mem : fill_memory,
		       fill_mem ? mem_arg : &vm->mem, err);
	if (r == 0) {
		conf = config_dump(vm->cfg, ident, vm_net_hotplug_json(vm));
		b = (struct blob){ conf, strlen(conf) };
		r = write_file(dir, SNAPSHOT_CONFIG, fill_blob, &b, err);
	}
	if (r == 0) {
		b = (struct blob){ w.buf, w.len };
		r = write_file(dir, SNAPSHOT_STATE, fill_blob, &b, err);
	}
	/* the devices stood still from their save to here: memory and state agree */
	vm_devices_thaw(vm);
	state_writer_release(&w);
	return r;
}

int snapshot_write_file(const char *dir, const char *name, const void *p, size_t len,
			struct hull_err *err)
{
	struct blob b = { p, len };

	return write_file(dir, name, fill_blob, &b, err);
}

int vm_snapshot(struct vm *vm, const char *dir, bool resume, struct hull_err *err)
{
	struct snapshot_ident ident = { 0 };
	int r;

	/* the memory file holds RAM only: hotplugged memory would be lost (docs/vmm.md) */
	if (vm->mem.hp_size)
		return hull_err_setx(err, EOPNOTSUPP, "snapshot: a VM with --memory-hotplug "
				     "cannot be snapshotted (its virtio-mem region is not saved)");
	/* virtio-fs: open files and FUSE inodes live in virtiofsd, not in the state stream */
	if (vm->cfg->n_fs)
		return hull_err_setx(err, EOPNOTSUPP, "snapshot: a VM with --fs cannot be "
				     "snapshotted (its filesystem state lives in virtiofsd)");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return hull_err_set(err, errno, "snapshot directory %s", dir);
	vm_pause(vm);
	if (atomic_load(&vm->stop))
		return hull_err_setx(err, ESRCH, "the VM is stopping");
	snapshot_ident_new(&ident);
	r = snapshot_write_files(vm, dir, &ident, NULL, NULL, err);
	if (r == 0)
		snapshot_chain_started(vm, dir, &ident); /* paused still: diffs count from here */
	if (resume)
		vm_resume(vm);
	return r;
}

int snapshot_memory_map(struct vm *vm, struct hull_err *err)
{
	cleanup_free char *base = NULL;
	struct snapshot_chain_dirs chain = { 0 };
	int r = snapshot_chain_read(vm->cfg->restore_dir, &chain, err);

	if (r == 0)
		r = snapshot_memory_map_dir(vm, chain.dirs[0], err);
	for (unsigned i = 1; r == 0 && i < chain.n; i++)
		r = snapshot_diff_apply(vm, chain.dirs[i], err); /* oldest first */
	snapshot_chain_dirs_free(&chain);
	return r;
}

int snapshot_memory_map_dir(struct vm *vm, const char *dir, struct hull_err *err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, SNAPSHOT_MEMORY);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	int r;

	if (fd < 0 || fstat(fd, &st) < 0)
		return hull_err_set(err, errno, "%s", path);
	if (!S_ISREG(st.st_mode))
		return hull_err_setx(err, EINVAL, "%s: not a regular file", path);
	if ((uint64_t)st.st_size != vm->cfg->mem_size)
		return hull_err_setx(err, EINVAL,
				     "%s: %" PRIu64 " bytes, but config.json says memory %" PRIu64
				     " (truncated or not this snapshot's)",
				     path, (uint64_t)st.st_size, vm->cfg->mem_size);
	r = gmem_init_file(&vm->mem, vm->cfg->mem_size, fd);
	if (r < 0)
		return hull_err_set(err, -r, "%s: mapping it as guest memory", path);
	return 0;
}

int snapshot_state_verify(const uint8_t *buf, size_t len, const char *where, size_t *ret_len,
			  struct hull_err *err)
{
	struct state_reader rd, sec;
	uint32_t id, idx, crc = 0;
	unsigned n = 0;
	int r;

	if (len >= VM_STATE_HDR_SIZE + 4)
		memcpy(&crc, buf + len - 4, 4); /* the file's end: any alignment */
	if (len < VM_STATE_HDR_SIZE + 4 || len > VM_STATE_MAX + 4 ||
	    le32toh(crc) != (uint32_t)crc32(0L, buf, (uInt)(len - 4)))
		return hull_err_setx(err, EBADMSG, "%s: checksum mismatch (truncated or corrupt)",
				     where);
	len -= 4;
	r = state_reader_init(&rd, buf, len);
	if (r < 0)
		return hull_err_setx(err, -r, "%s: %s", where,
				     r == -EPROTONOSUPPORT
					     ? "state format version from a newer hull"
					     : "not a hull state file (bad magic or too short)");
	while ((r = state_next_section(&rd, &id, &idx, &sec)) > 0)
		n++;
	if (r < 0)
		return hull_err_setx(err, EBADMSG, "%s: section %u: truncated or CRC mismatch",
				     where, n);
	*ret_len = len;
	return 0;
}

int snapshot_state_check(const char *dir, uint8_t **ret_buf, size_t *ret_len,
			 struct hull_err *err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, SNAPSHOT_STATE);
	cleanup_free char *buf = NULL;
	size_t len = 0;
	int r;

	r = fd_read_file_at(AT_FDCWD, path, VM_STATE_MAX + 4, &buf, &len);
	if (r < 0)
		return hull_err_set(err, -r, "%s", path);
	r = snapshot_state_verify((const uint8_t *)buf, len, path, &len, err);
	if (r < 0)
		return r;
	*ret_buf = (uint8_t *)steal_ptr(&buf);
	*ret_len = len;
	return 0;
}

/* One section: the platform's or a vCPU's (each at most once), else a device's. */
static int state_load_section(struct vm *vm, uint32_t id, uint32_t idx, struct state_reader *sec,
			      uint32_t *arch_seen, unsigned *n_arch, unsigned *n_dev,
			      uint64_t *seen, struct hull_err *err)
{
	int r = arch_state_load(vm, id, idx, sec, err);

	if (r == 0) {
		r = vm_devices_load_section(vm, id, idx, sec, seen, err);
		*n_dev += r == 0;
		return r;
	}
	if (r < 0)
		return r;
	for (unsigned i = 0; i < *n_arch; i++)
		if (arch_seen[2 * i] == id && arch_seen[2 * i + 1] == idx)
			return hull_err_setx(err, EBADMSG, "a second section 0x%x/%u", id, idx);
	if (*n_arch == VM_MAX_CPUS + 1)
		return hull_err_setx(err, EBADMSG, "too many vCPU sections");
	arch_seen[2 * *n_arch] = id;
	arch_seen[2 * *n_arch + 1] = idx;
	(*n_arch)++;
	return 0;
}

int snapshot_state_load_buf(struct vm *vm, const uint8_t *buf, size_t len, const char *where,
			    struct hull_err *err)
{
	struct state_reader rd, sec;
	uint32_t id = 0, idx = 0;
	unsigned n_arch = 0, n_dev = 0;
	uint64_t seen = 0;
	uint32_t arch_seen[2 * (VM_MAX_CPUS + 1)]; /* (id, instance) pairs: each at most once */
	int r;

	r = state_reader_init(&rd, buf, len);
	if (r < 0)
		return hull_err_setx(err, EBADMSG, "%s: not a hull state stream", where);
	while ((r = state_next_section(&rd, &id, &idx, &sec)) > 0) {
		r = state_load_section(vm, id, idx, &sec, arch_seen, &n_arch, &n_dev, &seen, err);
		if (r < 0)
			return hull_err_prefix(err, "%s", where);
	}
	if (r < 0)
		return hull_err_setx(err, EBADMSG, "%s: truncated or CRC mismatch", where);
	if (n_arch != arch_state_sections(vm) || n_dev != vm_devices_saved_count(vm))
		return hull_err_setx(err, EBADMSG,
				     "%s: %u vCPU/platform and %u device sections, this VM has "
				     "%u and %u (config.json and state do not match)",
				     where, n_arch, n_dev, arch_state_sections(vm),
				     vm_devices_saved_count(vm));
	return 0;
}

int snapshot_state_load(struct vm *vm, struct hull_err *err)
{
	const char *dir = vm->cfg->restore_dir;
	cleanup_free char *where = xasprintf("%s/%s", dir, SNAPSHOT_STATE);
	cleanup_free uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = snapshot_state_check(dir, &buf, &len, err);
	if (r < 0)
		return r;
	return snapshot_state_load_buf(vm, buf, len, where, err);
}
