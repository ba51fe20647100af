#include <stdio.h>

#include "cli/commands.h"

int cmd_img(int argc, char **argv)
{
	fprintf(stderr, "hull img: not implemented yet\n");
	return 125;
}
