#include <stdio.h>

#include "cli/commands.h"

int cmd_vm(int argc, char **argv)
{
	fprintf(stderr, "hull vm: not implemented yet\n");
	return 125;
}
