#pragma once
/*
 * What `hull bench compare` measures, one hull command at a time: the command runs as a child
 * of this process (the same hull executable, with the same store), and the times are taken
 * around it, so both kinds of instance pay for the same CLI start-up.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct image_store;

/* One run of `hull ARGS`. */
struct bench_run {
	double first_s;     /* fork to the first byte on stdout; < 0 when there was none */
	double total_s;     /* fork to exit */
	int code;           /* exit status, 128+N when killed by signal N, -errno */
	char err_line[256]; /* the last line the command wrote to stderr ("" when none) */
};

/* Run self (the hull executable) with args (NULL-terminated, args[0] included), stdin from
 * /dev/null, stdout read and dropped, stderr's last line kept. Returns 0 (the command's own
 * status is r->code) or -errno when it could not be started. */
int bench_run_hull(const char *self, char *const *args, struct bench_run *r);

/* The proportional set size of pid and all its descendants, in bytes (smaps_rollup's Pss,
 * which shares each page among the processes that map it). Returns 0 or -errno. */
int bench_tree_pss(pid_t pid, uint64_t *ret);

/* The median of v[0..n) (sorts v); 0 when n is 0. */
double bench_median(double *v, size_t n);

/* Bytes a microVM needs besides the image's layers and root image: the initramfs files hull
 * built (<store>/vm/initrd-*) and the kernel (kernel, or the newest
 * /boot/vmlinuz-*-amd64 as `hull run --vm` picks it). Returns 0 or -errno. */
int bench_vm_boot_files(struct image_store *s, const char *kernel, uint64_t *ret);

/* Bytes of the warm snapshots (warm-*) under the store-relative image directory rel
 * (<store>/vm/<image hex>, engine/vm-warm.h); 0 when there is none. */
void bench_vm_warm_du(struct image_store *s, const char *rel, uint64_t *ret);
