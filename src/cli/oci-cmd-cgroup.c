/* hull-oci update, pause, resume, events: the cgroup commands (runc's command line). */
#include "cli/oci-cli.h"
#include "common/log.h"

static int not_yet(const char *cmd)
{
	log_error("\"%s\" is not implemented yet", cmd);
	return 1;
}

int oci_cmd_update(struct oci_cli *cli, int argc, char **argv)
{
	(void)cli, (void)argc, (void)argv;
	return not_yet("update");
}

int oci_cmd_pause(struct oci_cli *cli, int argc, char **argv)
{
	(void)cli, (void)argc, (void)argv;
	return not_yet("pause");
}

int oci_cmd_resume(struct oci_cli *cli, int argc, char **argv)
{
	(void)cli, (void)argc, (void)argv;
	return not_yet("resume");
}

int oci_cmd_events(struct oci_cli *cli, int argc, char **argv)
{
	(void)cli, (void)argc, (void)argv;
	return not_yet("events");
}
