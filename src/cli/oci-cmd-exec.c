/* hull-oci exec: run a new process inside a running container (runc's command line). */
#include "cli/oci-cli.h"
#include "common/log.h"

int oci_cmd_exec(struct oci_cli *cli, int argc, char **argv)
{
	(void)cli, (void)argc, (void)argv;
	log_error("\"exec\" is not implemented yet");
	return 1;
}
