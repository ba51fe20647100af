/* The warm snapshot cache (engine/vm-warm.h): the key text follows every input's identity,
 * and a snapshot directory is usable only when whole and this VM's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>
#include <zlib.h>

#include "common/alloc.h"
#include "common/fd.h"
#include "common/rmtree.h"
#include "engine/vm-warm.h"
#include "vmm/state.h"

static char base[] = "/tmp/hull-warm-XXXXXX";
static char *files[4];

static void put(const char *path, const void *p, size_t len)
{
	assert_int_equal(fd_write_file_atomic_at(AT_FDCWD, path, p, len, 0600), 0);
}

static int setup(void **state)
{
	static const char *const names[] = { "vmlinuz", "initrd", "root.erofs", "hull-vmm" };

	(void)state;
	assert_non_null(mkdtemp(base));
	for (int i = 0; i < 4; i++) {
		files[i] = xasprintf("%s/%s", base, names[i]);
		put(files[i], names[i], strlen(names[i]));
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 4; i++)
		free(files[i]);
	return rm_tree_at(AT_FDCWD, base);
}

static struct vm_spec spec(void)
{
	return (struct vm_spec){ .kernel = files[0], .initrd = files[1], .root = files[2],
				 .mib = 64, .cpus = 1 };
}

/* Each input changed in turn (content, or a size): another key; the same: the same key. */
static void test_key_follows_inputs(void **state)
{
	struct vm_spec v = spec();
	struct hull_err err = { 0 };
	char *k0, *k1;
	char h0[17], h1[17];

	(void)state;
	assert_int_equal(vm_warm_key_text(&v, files[3], "console=ttyS0", &k0, &err), 0);
	assert_int_equal(vm_warm_key_text(&v, files[3], "console=ttyS0", &k1, &err), 0);
	assert_string_equal(k0, k1);
	free(k1);
	vm_warm_key_hash(k0, h0);
	assert_int_equal(strlen(h0), 16);
	for (int i = 0; i < 8; i++) {
		struct vm_spec w = spec();

		if (i < 4)
			put(files[i], "changed...", 7 + (size_t)i); /* a new inode, another size */
		if (i == 4)
			w.mib = 128;
		if (i == 5)
			w.cpus = 2;
		if (i == 7) /* a NIC: the snapshot's (warmnet18) */
			w.netns = "/run/netns/x";
		assert_int_equal(vm_warm_key_text(&w, files[3], i == 6 ? "quiet" : "console=ttyS0",
						  &k1, &err), 0);
		vm_warm_key_hash(k1, h1);
		assert_string_not_equal(k0, k1);
		assert_string_not_equal(h0, h1);
		free(k0);
		k0 = k1;
		vm_warm_key_hash(k0, h0);
	}
	free(k0);
	/* a missing input: an error naming it */
	v.kernel = "/nonexistent/vmlinuz";
	assert_int_equal(vm_warm_key_text(&v, files[3], "x", &k0, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent/vmlinuz"));
}

/* Seeded random VMs (NIC or not, its namespace and tap, memory, vCPUs): the key text is
 * equal exactly when what the guest gets is, so the namespace and tap of a run (each
 * container's own) never split the snapshot, and a NIC always does. */
static void test_key_nic_random(void **state)
{
	unsigned seed = 1803;
	char *keys[64];
	int nic[64];
	int64_t mib[64], cpus[64];
	struct hull_err err = { 0 };

	(void)state;
	for (int i = 0; i < 64; i++) {
		struct vm_spec v = spec();
		char ns[32], net[64];

		nic[i] = rand_r(&seed) & 1;
		mib[i] = 64 << (rand_r(&seed) % 2);
		cpus[i] = 1 + rand_r(&seed) % 2;
		(void)snprintf(ns, sizeof(ns), "/run/netns/n%d", rand_r(&seed));
		(void)snprintf(net, sizeof(net), "tap=tap0,mac=02:00:00:00:00:%02x,queues=1",
			       rand_r(&seed) % 256);
		v.mib = mib[i];
		v.cpus = cpus[i];
		v.netns = nic[i] ? ns : NULL;
		v.net = nic[i] ? net : NULL;
		assert_int_equal(vm_warm_key_text(&v, files[3], "console=ttyS0", &keys[i], &err), 0);
		assert_int_equal(strstr(keys[i], "\nnic " VM_WARM_NIC "\n") != NULL, nic[i]);
		assert_null(strstr(keys[i], ns));
	}
	for (int i = 0; i < 64; i++)
		for (int j = 0; j < 64; j++)
			assert_int_equal(strcmp(keys[i], keys[j]) == 0,
					 nic[i] == nic[j] && mib[i] == mib[j] && cpus[i] == cpus[j]);
	for (int i = 0; i < 64; i++)
		free(keys[i]);
}

/* A snapshot directory: key, config.json, memory of the VM's size, a checksummed state. */
static char *make_snap(const char *name, const char *key, size_t *ret_state_len)
{
	char *dir = xasprintf("%s/%s", base, name);
	char *p;
	struct state_writer w;
	const char conf[] = "{\"version\": 1, \"memory\": 67108864, \"cpus\": 1}";
	uint32_t crc;
	int fd;

	assert_int_equal(mkdir(dir, 0700), 0);
	p = xasprintf("%s/key", dir);
	put(p, key, strlen(key));
	free(p);
	p = xasprintf("%s/config.json", dir);
	put(p, conf, strlen(conf));
	free(p);
	p = xasprintf("%s/memory", dir);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0 && ftruncate(fd, 64 << 20) == 0);
	close(fd);
	free(p);
	state_writer_init(&w);
	state_begin(&w, 1, 0);
	state_put_u64(&w, 0x1122334455667788ULL);
	state_end(&w);
	assert_int_equal(state_writer_finish(&w), 0);
	crc = (uint32_t)crc32(0L, w.buf, (uInt)w.len);
	state_put_u32(&w, crc);
	p = xasprintf("%s/state", dir);
	put(p, w.buf, w.len);
	free(p);
	*ret_state_len = w.len;
	state_writer_release(&w);
	return dir;
}

/* Seeded damage to each file: never usable; the whole one: usable. */
static void test_check_refuses_damage(void **state)
{
	struct hull_err err = { 0 };
	unsigned seed = (unsigned)time(NULL);

	(void)state;
	srand(seed);
	for (int i = 0; i < 60; i++) {
		char name[32];
		size_t slen;
		char *dir, *p;
		int what = i % 6;

		(void)snprintf(name, sizeof(name), "snap%d", i);
		dir = make_snap(name, "KEY\n", &slen);
		assert_int_equal(vm_warm_check(dir, "KEY\n", 64, 1, &err), 0);
		if (what == 0) { /* a byte of state flipped */
			char *buf = NULL;
			size_t len = 0;

			p = xasprintf("%s/state", dir);
			assert_int_equal(fd_read_file_at(AT_FDCWD, p, 1 << 20, &buf, &len), 0);
			buf[(size_t)rand() % len] ^= (char)(1 + rand() % 255);
			put(p, buf, len);
			free(buf);
		} else if (what == 1) { /* state cut short */
			p = xasprintf("%s/state", dir);
			assert_int_equal(truncate(p, (off_t)((size_t)rand() % slen)), 0);
		} else if (what == 2) { /* memory of another size */
			p = xasprintf("%s/memory", dir);
			assert_int_equal(truncate(p, (off_t)((64 << 20) - 4096 * (1 + rand() % 100))), 0);
		} else if (what == 3) { /* a file gone */
			static const char *const f[] = { "key", "config.json", "memory", "state" };

			p = xasprintf("%s/%s", dir, f[rand() % 4]);
			assert_int_equal(unlink(p), 0);
		} else if (what == 4) { /* another key */
			p = xasprintf("%s/key", dir);
			put(p, "KEY2\n", 5);
		} else { /* config.json of another size, or not JSON */
			p = xasprintf("%s/config.json", dir);
			if (rand() % 2)
				put(p, "{\"memory\": 134217728, \"cpus\": 1}", 32);
			else
				put(p, "{\"memory\": 6710", 15);
		}
		if (vm_warm_check(dir, "KEY\n", 64, 1, &err) == 0)
			fail_msg("seed %u case %d: a damaged snapshot passed", seed, i);
		free(p);
		free(dir);
	}
	/* the VM asks for another size than the snapshot has */
	{
		size_t slen;
		char *dir = make_snap("sized", "K", &slen);

		assert_int_not_equal(vm_warm_check(dir, "K", 128, 1, &err), 0);
		assert_int_not_equal(vm_warm_check(dir, "K", 64, 2, &err), 0);
		free(dir);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_follows_inputs),
		cmocka_unit_test(test_key_nic_random),
		cmocka_unit_test(test_check_refuses_damage),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
