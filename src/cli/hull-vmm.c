/*
 * hull-vmm: `hull vm` as its own small executable, linked with only common, disk and vmm.
 * `hull vm run` execs it when it sits beside the hull binary, so that a VM's monitor process
 * does not carry the libraries the image store needs (libarchive and what it pulls in: a few
 * MiB of RSS per VM). Users may call it directly, as they would firecracker:
 *
 *     hull-vmm run --kernel vmlinuz --initrd initrd --disk root.qcow2,format=qcow2
 */
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"

int main(int argc, char **argv)
{
	const char *as = getenv("HULL_VMM_PROG");

	/* exec'd by `hull vm run`: speak as "hull vm" (not inherited by what the VM runs) */
	cli_prog = as && strcmp(as, "hull vm") == 0 ? "hull vm" : "hull-vmm";
	(void)unsetenv("HULL_VMM_PROG");
	return cmd_vm(argc, argv);
}
