/*
 * `hull vm warm [--kernel F] [-m SIZE] [--cpus N] [--network NAME] IMAGE`: the warm snapshot that `hull run
 * --vm` restores (engine/vm-warm.h, docs/engine.md "Fast start"), built now rather than by
 * the image's first run: a `run --rm --vm ... IMAGE true` of this hull (which builds it when
 * missing or damaged, else restores it), then the snapshot's directory on stdout.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd-vm-warm.h"
#include "cli/commands.h"
#include "common/alloc.h"
#include "common/childwait.h"
#include "common/cleanup.h"
#include "common/strv.h"
#include "image/image.h"

enum { OPT_WARM_KERNEL = 0x2000, OPT_WARM_CPUS };
#define OPT_WARM_NETWORK 0x2500 /* warmnet18's block */

static const struct cli_option vm_warm_opts[] = {
	{ "kernel", required_argument, NULL, OPT_WARM_KERNEL, "FILE",
	  "the guest's kernel (as run --vm --kernel)" },
	{ "memory", required_argument, NULL, 'm', "SIZE", "the VM's memory (as run --vm -m)" },
	{ "cpus", required_argument, NULL, OPT_WARM_CPUS, "N", "vCPUs (as run --vm --cpus)" },
	{ "network", required_argument, NULL, OPT_WARM_NETWORK, "NAME",
	  "the snapshot for runs on this network (none: without a NIC; default: run's)" },
	{ 0 },
};
static const struct cli_command vm_warm_cmd = {
	.name = "vm warm", .args = "[OPTIONS] IMAGE", .optstring = "+m:", .opts = vm_warm_opts,
	.summary = "Build the warm snapshot `hull run --vm` restores for an image.",
};

/* Print <store>/vm/<image hex>/warm-* (what the run left). */
static int print_warm(const char *image)
{
	cleanup_image_store struct image_store *st = NULL;
	struct image_info info = { 0 };
	struct hull_err err = { 0 };
	cleanup_free char *rel = NULL;
	int fd, n = 0;
	struct dirent *e;
	DIR *d;

	if (cli_store_open("vm warm", &st) != 0)
		return 125;
	if (image_lookup(st, image, &info, &err) < 0)
		return cli_fail("vm warm", &err);
	rel = xasprintf("vm/%s", info.config + strlen("sha256:"));
	image_info_clear(&info);
	fd = openat(st->root_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	while (d && (e = readdir(d)))
		if (strncmp(e->d_name, "warm-", 5) == 0 && !strstr(e->d_name, ".tmp.")) {
			printf("%s/%s/%s\n", st->root, rel, e->d_name);
			n++;
		}
	if (d)
		closedir(d);
	else if (fd >= 0)
		(void)close(fd);
	if (n == 0)
		return cli_usage_error("vm warm", "%s: no warm snapshot was built (see the run's "
				       "output above)", image);
	return 0;
}

int vm_warm_main(int argc, char **argv)
{
	cleanup_strv char **av = NULL;
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	pid_t pid;
	int c, code;

	if (len <= 0)
		return cli_usage_error("vm warm", "/proc/self/exe: %s", strerror(errno));
	self[len] = '\0';
	strv_push(&av, self);
	if (cli_root) {
		strv_push(&av, "--root");
		strv_push(&av, cli_root);
	}
	strv_push(&av, "run");
	strv_push(&av, "--rm");
	strv_push(&av, "--vm");
	optind = 0;
	while ((c = cli_getopt(argc, argv, &vm_warm_cmd)) != -1) {
		switch (c) {
		case OPT_WARM_KERNEL: strv_push(&av, "--kernel"); break;
		case 'm': strv_push(&av, "-m"); break;
		case OPT_WARM_CPUS: strv_push(&av, "--cpus"); break;
		/* runs with a NIC and without have a snapshot each (docs/engine.md "Fast start") */
		case OPT_WARM_NETWORK: strv_push(&av, "--network"); break;
		default: return 125;
		}
		strv_push(&av, optarg);
	}
	if (optind + 1 != argc)
		return cli_usage_error("vm warm", "expected one IMAGE");
	strv_push(&av, argv[optind]);
	strv_push(&av, "true");
	(void)unsetenv("HULL_VM_COLD");
	(void)fflush(NULL);
	pid = fork();
	if (pid < 0)
		return cli_usage_error("vm warm", "fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (null < 0 || dup2(null, 0) < 0)
			_exit(125);
		execv(self, av);
		_exit(127);
	}
	/* the snapshot is taken before the command runs: an image without `true` has one too */
	code = child_wait(pid);
	if (code == 125 || code < 0)
		return 125;
	return print_warm(argv[optind]);
}
