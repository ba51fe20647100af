#pragma once
/*
 * `hull vm run --net network=NAME[,mac=MAC][,ip=ADDR] [-p ...] [--name NAME]` (the hull
 * binary only: hull-vmm has no engine). src/cli/vm-net.c, docs/vmm.md "Networking".
 */
#include "cli/opt.h"

/*
 * argv: "run" and its arguments; cmd: `vm run`'s option table (which options take a
 * value). Without --net network= (and without -p/--name) returns -1: nothing to do here,
 * the plain `hull vm run` follows. Otherwise sets up the VM's network, runs the VMM in its
 * namespace (a child; SIGTERM and SIGINT are passed on), tears down, and returns the exit
 * status to exit with (the VMM's, or 125 with one line on stderr).
 */
int vm_net_run(const struct cli_command *cmd, int argc, char **argv);
