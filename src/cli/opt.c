/*
 * cli_getopt: getopt_long without prefix matching, with --bool=false and --help (opt.h).
 *
 * glibc's getopt_long does the parsing (clusters, "--name=value" and "--name value",
 * permutation, "--"); before each call we look at the element it will parse next and refuse
 * a long option that is not in the table as written, so getopt never sees an abbreviation.
 * Boolean long options are handed to getopt as optional_argument, which makes "--rm=false"
 * legal without changing "--rm IMAGE" (an optional argument is only ever taken after '=').
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/opt.h"

#define CLI_OPT_MAX 128
#define CLI_OPT_HELP 0x7fff0001

const char *cli_prog = "hull";
bool cli_opt_on = true;
const struct cli_option *cli_opt_long;

void cli_opt_error(const struct cli_command *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s%s%s: ", cli_prog, cmd->name[0] ? " " : "", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* -h means --help unless the command gives it another meaning (docker: run -h HOSTNAME). */
static bool h_is_help(const struct cli_command *cmd)
{
	return strchr(cmd->optstring, 'h') == NULL;
}

static bool is_short(const struct cli_command *cmd, int val)
{
	if (val == 'h' && h_is_help(cmd))
		return true;
	return val > 0 && val < 128 && val != ':' && val != '+' &&
	       strchr(cmd->optstring, val) != NULL;
}

static void usage_row(FILE *f, const struct cli_command *cmd, const struct cli_option *o)
{
	char left[64];
	int n = 0;

	if (is_short(cmd, o->val))
		n = snprintf(left, sizeof(left), "-%c%s", o->val, o->name ? ", " : "");
	else
		n = snprintf(left, sizeof(left), "    ");
	if (o->name)
		n += snprintf(left + n, sizeof(left) - (size_t)n, "--%s", o->name);
	if (o->has_arg != no_argument)
		(void)snprintf(left + n, sizeof(left) - (size_t)n, " %s", o->arg ? o->arg : "VALUE");
	if (strlen(left) > 28)
		fprintf(f, "  %s\n  %-28s %s\n", left, "", o->help ? o->help : "");
	else
		fprintf(f, "  %-28s %s\n", left, o->help ? o->help : "");
}

void cli_usage(FILE *f, const struct cli_command *cmd)
{
	static const struct cli_option help = { "help", no_argument, NULL, 'h', NULL,
						"print this help and exit" };
	struct cli_option h = help;

	fprintf(f, "Usage: %s%s%s%s%s\n", cli_prog, cmd->name[0] ? " " : "", cmd->name,
		cmd->args ? " " : "", cmd->args ? cmd->args : "");
	if (cmd->summary)
		fprintf(f, "\n%s\n", cmd->summary);
	fprintf(f, "\nOptions:\n");
	for (const struct cli_option *o = cmd->opts; o && (o->name || o->val); o++)
		usage_row(f, cmd, o);
	if (!h_is_help(cmd))
		h.val = CLI_OPT_HELP;
	usage_row(f, cmd, &h);
	if (cmd->more) {
		fputc('\n', f);
		cmd->more(f);
	}
}

static void help_exit(const struct cli_command *cmd)
{
	cli_usage(stdout, cmd);
	exit(fflush(stdout) == 0 ? 0 : 1);
}

/*
 * HULL_CLI_DUMP_OPTIONS="hull run" prints that command's table instead of parsing, one
 * "LONG<TAB>ARG<TAB>SHORT" line per option ("-" for none), so that the tests are generated
 * from the tables themselves (tests/integration/test_cli_options.py).
 */
static void dump_if_asked(const struct cli_command *cmd)
{
	const char *want = getenv("HULL_CLI_DUMP_OPTIONS");
	size_t n = strlen(cli_prog);

	if (!want || strncmp(want, cli_prog, n) != 0)
		return;
	if (cmd->name[0] ? want[n] != ' ' || strcmp(want + n + 1, cmd->name) != 0 : want[n] != '\0')
		return;
	for (const struct cli_option *o = cmd->opts; o && (o->name || o->val); o++) {
		char s[2] = { is_short(cmd, o->val) ? (char)o->val : '-', '\0' };

		printf("%s\t%d\t%s\n", o->name ? o->name : "-", o->has_arg != no_argument, s);
	}
	printf("help\t0\t%s\n", h_is_help(cmd) ? "h" : "-");
	exit(0);
}

static const struct cli_option *find_long(const struct cli_command *cmd, const char *name,
					  size_t len)
{
	for (const struct cli_option *o = cmd->opts; o && (o->name || o->val); o++)
		if (o->name && strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

/* The element getopt will parse next (it skips operands unless optstring starts with '+'). */
static int next_element(int argc, char **argv, const struct cli_command *cmd)
{
	int i = optind > 0 ? optind : 1;

	if (cmd->optstring[0] != '+' && !getenv("POSIXLY_CORRECT"))
		while (i < argc && !(argv[i][0] == '-' && argv[i][1]))
			i++;
	return i;
}

/* "td", "p/path": short options (the last may take the rest as its argument) */
static bool is_cluster(const struct cli_command *cmd, const char *s)
{
	for (; *s; s++) {
		const char *o = strchr(cmd->optstring, *s);

		if (!o || *s == ':' || *s == '+')
			return false;
		if (o[1] == ':')
			return true;
	}
	return true;
}

struct cli_next {
	const char *elem;              /* the element, or NULL */
	const struct cli_option *lopt; /* the long option it names, or NULL: short options */
	bool long_only;                /* parse it with getopt_long_only */
};

/* Check the next element; returns -1 after printing when it names no option in full. */
static int classify(int argc, char **argv, const struct cli_command *cmd, struct cli_next *n)
{
	int i = next_element(argc, argv, cmd);
	const char *a, *name;
	size_t len;

	memset(n, 0, sizeof(*n));
	if (i >= argc || argv[i][0] != '-' || argv[i][1] == '\0' || strcmp(argv[i], "--") == 0)
		return 0;
	a = n->elem = argv[i];
	if (a[1] == 'h' && a[2] == '\0' && h_is_help(cmd))
		help_exit(cmd);
	if (a[1] == '-') {
		name = a + 2;
	} else if ((cmd->flags & CLI_LONG_ONLY) && (a[2] || !strchr(cmd->optstring, a[1]))) {
		name = a + 1;
		n->long_only = true;
	} else {
		return 0; /* short options: getopt_long never tries a long match on these */
	}
	len = strcspn(name, "=");
	if (len == 4 && strncmp(name, "help", 4) == 0 && !find_long(cmd, name, len))
		help_exit(cmd);
	n->lopt = find_long(cmd, name, len);
	if (n->lopt)
		return 0;
	if (n->long_only && is_cluster(cmd, a + 1)) {
		n->long_only = false; /* "-td": short options, as getopt_long would read it */
		return 0;
	}
	cli_opt_error(cmd, "unknown flag: %.*s", (int)(name - a + len), a);
	return -1;
}

/* getopt's tables: booleans take an optional "=value", and "help" is always there. */
static void shadow(const struct cli_command *cmd, struct option *lo, char *so, size_t so_len)
{
	const char *s = cmd->optstring;
	size_t k = 0;

	for (const struct cli_option *o = cmd->opts; o && (o->name || o->val); o++) {
		if (!o->name)
			continue;
		if (k + 2 >= CLI_OPT_MAX)
			abort(); /* a table this long is a bug of the caller */
		lo[k++] = (struct option){ o->name,
					   o->has_arg == no_argument ? optional_argument : o->has_arg,
					   NULL, o->val };
	}
	lo[k++] = (struct option){ "help", no_argument, NULL, CLI_OPT_HELP };
	lo[k] = (struct option){ 0 };
	/* ':' first (after '+'): a missing argument returns ':' rather than '?' */
	(void)snprintf(so, so_len, "%s:%s%s", s[0] == '+' ? "+" : "", s + (s[0] == '+'),
		       h_is_help(cmd) ? "h" : "");
}

static int parse_bool(const struct cli_command *cmd, const struct cli_next *n)
{
	static const char *const yes[] = { "true", "1", "TRUE", "True", "t", "T" };
	static const char *const no[] = { "false", "0", "FALSE", "False", "f", "F" };

	cli_opt_on = true;
	if (!optarg)
		return 0;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (strcmp(optarg, yes[i]) == 0)
			goto ok;
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strcmp(optarg, no[i]) == 0) {
			cli_opt_on = false;
			goto ok;
		}
	cli_opt_error(cmd, "invalid value \"%s\" for %.*s: use true or false", optarg,
		      (int)strcspn(n->elem, "="), n->elem);
	return -1;
ok:
	optarg = NULL;
	return 0;
}

int cli_getopt(int argc, char **argv, const struct cli_command *cmd)
{
	struct option lo[CLI_OPT_MAX];
	char so[128];
	struct cli_next n;
	int c;

	dump_if_asked(cmd);
	opterr = 0;
	cli_opt_on = true;
	cli_opt_long = NULL;
	if (classify(argc, argv, cmd, &n) < 0)
		return '?';
	shadow(cmd, lo, so, sizeof(so));
	c = n.long_only ? getopt_long_only(argc, argv, so, lo, NULL)
			: getopt_long(argc, argv, so, lo, NULL);
	if (c == CLI_OPT_HELP || (c == 'h' && h_is_help(cmd)))
		help_exit(cmd);
	if (c == ':') {
		if (n.lopt)
			cli_opt_error(cmd, "flag needs an argument: %s", n.elem);
		else
			cli_opt_error(cmd, "flag needs an argument: '%c' in %s", optopt,
				      n.elem ? n.elem : "");
		return '?';
	}
	if (c == '?') {
		if (n.lopt || !n.elem || !optopt)
			cli_opt_error(cmd, "unknown flag: %s", n.elem ? n.elem : "?");
		else
			cli_opt_error(cmd, "unknown shorthand flag: '%c' in %s", optopt, n.elem);
		return '?';
	}
	if (c != -1 && n.lopt && n.lopt->has_arg == no_argument && parse_bool(cmd, &n) < 0)
		return '?';
	cli_opt_long = c != -1 ? n.lopt : NULL;
	return c;
}
