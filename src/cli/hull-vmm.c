/*
 * hull-vmm: `hull vm` as its own small executable, linked with only common, disk and vmm.
 * `hull vm run` execs it when it sits beside the hull binary, so that a VM's monitor process
 * does not carry the libraries the image store needs (libarchive and what it pulls in: a few
 * MiB of RSS per VM). Users may call it directly, as they would firecracker:
 *
 *     hull-vmm run --kernel vmlinuz --initrd initrd --disk root.qcow2,format=qcow2
 */
#include "cli/commands.h"

int main(int argc, char **argv)
{
	cli_prog = "hull-vmm";
	return cmd_vm(argc, argv);
}
