/* hull create/run --init, --stop-signal, --stop-timeout, --label, --label-file, --restart */
#include "cli/create-lifecycle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/alloc.h"
#include "common/signame.h"
#include "common/strv.h"
#include "engine/lifecycle.h"

#define LABELS_MAX 4096

static int add_label(const char *cmd, const char *flag, const char *kv, struct run_opts *o)
{
	if (!ctr_label_is_valid(kv))
		return cli_usage_error(cmd, "%s %s: invalid label: use KEY[=VALUE] with a KEY "
				       "and no control characters", flag, kv);
	if (strv_length(o->labels) >= LABELS_MAX)
		return cli_usage_error(cmd, "%s: more than %d labels", flag, LABELS_MAX);
	strv_push(&o->labels, kv);
	return 0;
}

struct label_ctx {
	const char *cmd, *flag;
	struct run_opts *o;
};

static int label_line(const char *line, void *opaque)
{
	const struct label_ctx *x = opaque;

	return add_label(x->cmd, x->flag, line, x->o);
}

/* docker's label file: KEY[=VALUE] a line, blank lines and # comments skipped */
static int label_file(const char *cmd, const char *path, struct run_opts *o)
{
	cleanup_free char *flag = xasprintf("--label-file %s", path);
	struct label_ctx x = { cmd, flag, o };

	return cli_read_lines(cmd, "--label-file", path, label_line, &x);
}

/* docker's --stop-timeout: an integer, -1 waits forever */
static int stop_timeout(const char *cmd, const char *arg, struct run_opts *o)
{
	char *end = NULL;
	long n;

	errno = 0;
	n = strtol(arg, &end, 10);
	if (end == arg || *end || errno == ERANGE || n < -1 || n > 86400 * 365)
		return cli_usage_error(cmd, "--stop-timeout %s: invalid number of seconds (0 to "
				       "31536000, or -1 to wait forever)", arg);
	o->stop_timeout = (int)n;
	o->has_stop_timeout = true;
	return 0;
}

int cli_lifecycle_opt(const char *cmd, int opt, const char *arg, struct run_opts *o)
{
	switch (opt) {
	case CLI_LC_INIT:
		o->init = cli_opt_on;
		return 0;
	case CLI_LC_STOP_SIGNAL:
		if (signal_parse(arg) < 0)
			return cli_usage_error(cmd, "--stop-signal %s: unknown signal", arg);
		o->stop_signal = arg;
		return 0;
	case CLI_LC_STOP_TIMEOUT:
		return stop_timeout(cmd, arg, o);
	case CLI_LC_LABEL:
		return add_label(cmd, "--label", arg, o);
	case CLI_LC_LABEL_FILE:
		return label_file(cmd, arg, o);
	case CLI_LC_RESTART:
		if (ctr_restart_parse(arg, &o->restart) < 0)
			return cli_usage_error(cmd, "--restart %s: invalid restart policy (no, "
					       "on-failure[:N], always or unless-stopped)", arg);
		return 0;
	default:
		return EXIT_ENGINE;
	}
}

int cli_lifecycle_check(const char *cmd, const struct run_opts *o)
{
	/* docker's words */
	if (o->rm && o->restart.policy != CTR_RESTART_NO)
		return cli_usage_error(cmd, "Conflicting options: --restart and --rm");
	return 0;
}
