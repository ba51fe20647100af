/* The default kernel of `run --vm` (src/engine/vmroot.c, vmroot_kernel_pick): the newest
 * generic Debian kernel, the cloud flavour only when it is alone; seeded random sets of names
 * in random orders against a model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/vmroot.h"

static void test_fixed(void **state)
{
	char k0[] = "/boot/vmlinuz-6.1.0-57-cloud-amd64", k1[] = "/boot/vmlinuz-6.1.0-9-amd64",
	     k2[] = "/boot/vmlinuz-6.1.0-57-amd64", k3[] = "/boot/vmlinuz-6.1.0-100-cloud-amd64",
	     k4[] = "/boot/vmlinuz-6.1.0-10-amd64";
	char *v[] = { k0, k1, k2, k3 };
	char *w[] = { k1, k4 };

	(void)state;
	assert_null(vmroot_kernel_pick(v, 0));
	assert_string_equal(vmroot_kernel_pick(v, 4), k2);
	assert_string_equal(vmroot_kernel_pick(v, 1), k0);
	/* 10 > 9 as versions, not as strings */
	assert_string_equal(vmroot_kernel_pick(w, 2), k4);
}

struct k {
	int a, b, c;
	bool cloud;
	char path[96];
};

static int newer(const struct k *x, const struct k *y)
{
	if (x->a != y->a)
		return x->a > y->a;
	if (x->b != y->b)
		return x->b > y->b;
	return x->c > y->c;
}

static void test_generated(void **state)
{
	(void)state;
	srand(20261207);
	for (int round = 0; round < 5000; round++) {
		struct k ks[8];
		char *paths[8];
		size_t n = 1 + (size_t)(rand() % 8);
		const struct k *want = NULL;

		for (size_t i = 0; i < n; i++) {
			struct k *k = &ks[i];
			k->a = 5 + rand() % 2, k->b = rand() % 12, k->c = rand() % 120;
			k->cloud = rand() % 3 == 0;
			(void)snprintf(k->path, sizeof(k->path), "/boot/vmlinuz-%d.%d.0-%d-%samd64",
				       k->a, k->b, k->c, k->cloud ? "cloud-" : "");
			paths[i] = k->path;
		}
		for (int cloud = 0; cloud < 2 && !want; cloud++)
			for (size_t i = 0; i < n; i++)
				if (ks[i].cloud == cloud && (!want || newer(&ks[i], want)))
					want = &ks[i];
		assert_string_equal(vmroot_kernel_pick(paths, n), want->path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_generated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
