/* hull kill [-s SIGNAL] CONTAINER... */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/commands.h"
#include "engine/run.h"

static int parse_signal(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {
		{ "HUP", SIGHUP },   { "INT", SIGINT },   { "QUIT", SIGQUIT }, { "KILL", SIGKILL },
		{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "TERM", SIGTERM }, { "STOP", SIGSTOP },
		{ "CONT", SIGCONT }, { "ALRM", SIGALRM }, { "WINCH", SIGWINCH },
	};
	char *end = NULL;
	long n;

	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (strcasecmp(s, sigs[i].name) == 0)
			return sigs[i].sig;
	n = strtol(s, &end, 10);
	return end != s && !*end && n > 0 && n < 65 ? (int)n : -1;
}

int cmd_kill(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "signal", required_argument, NULL, 's' },
		{ 0 },
	};
	cleanup_image_store struct image_store *s = NULL;
	int sig = SIGKILL, c, rc = 0;

	while ((c = getopt_long(argc, argv, "+s:", opts, NULL)) != -1) {
		if (c != 's')
			return EXIT_ENGINE;
		sig = parse_signal(optarg);
		if (sig < 0)
			return cli_usage_error("kill", "-s %s: unknown signal", optarg);
	}
	if (optind >= argc)
		return cli_usage_error("kill", "usage: hull kill [-s SIGNAL] CONTAINER...");
	if (cli_store_open("kill", &s) != 0)
		return EXIT_ENGINE;
	for (int i = optind; i < argc; i++) {
		cleanup_ctr struct ctr *ct = NULL;
		struct hull_err err = { 0 };

		if (container_load(s, argv[i], &ct, &err) < 0 || engine_kill(s, ct, sig, &err) < 0) {
			rc = cli_fail("kill", &err);
			continue;
		}
		printf("%s\n", argv[i]);
	}
	return rc;
}
