/* Signal names: one table for hull, hull-oci and an image's STOPSIGNAL (see signal.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/signame.h"

/* The first name of each number is the one `kill -l` prints; later ones are aliases. */
static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP },	 { "INT", SIGINT },	  { "QUIT", SIGQUIT },	 { "ILL", SIGILL },
	{ "TRAP", SIGTRAP },	 { "ABRT", SIGABRT },	  { "BUS", SIGBUS },	 { "FPE", SIGFPE },
	{ "KILL", SIGKILL },	 { "USR1", SIGUSR1 },	  { "SEGV", SIGSEGV },	 { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE },	 { "ALRM", SIGALRM },	  { "TERM", SIGTERM },	 { "STKFLT", SIGSTKFLT },
	{ "CHLD", SIGCHLD },	 { "CONT", SIGCONT },	  { "STOP", SIGSTOP },	 { "TSTP", SIGTSTP },
	{ "TTIN", SIGTTIN },	 { "TTOU", SIGTTOU },	  { "URG", SIGURG },	 { "XCPU", SIGXCPU },
	{ "XFSZ", SIGXFSZ },	 { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },	 { "WINCH", SIGWINCH },
	{ "IO", SIGIO },	 { "PWR", SIGPWR },	  { "SYS", SIGSYS },	 { "IOT", SIGIOT },
	{ "CLD", SIGCHLD },	 { "POLL", SIGPOLL },
};

/* "", "+N" or "-N" after RTMIN/RTMAX: the offset, or -1 */
static long rt_offset(const char *s, int sign)
{
	char *end = NULL;
	long n;

	if (!*s)
		return 0;
	if ((sign > 0 && *s != '+') || (sign < 0 && *s != '-') || s[1] < '0' || s[1] > '9')
		return -1;
	n = strtol(s + 1, &end, 10);
	return *end || n > SIGRTMAX - SIGRTMIN ? -1 : n;
}

int signal_parse(const char *s)
{
	char *end = NULL;
	long n;

	if (!s || !*s)
		return -EINVAL;
	if (*s >= '0' && *s <= '9') {
		n = strtol(s, &end, 10);
		return *end || n <= 0 || n >= _NSIG ? -EINVAL : (int)n;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcasecmp(s, signals[i].name) == 0)
			return signals[i].sig;
	if (strncasecmp(s, "RTMIN", 5) == 0 && (n = rt_offset(s + 5, 1)) >= 0)
		return SIGRTMIN + (int)n;
	if (strncasecmp(s, "RTMAX", 5) == 0 && (n = rt_offset(s + 5, -1)) >= 0)
		return SIGRTMAX - (int)n;
	return -EINVAL;
}

int signal_format(int sig, char *buf, size_t len)
{
	int half = (SIGRTMAX - SIGRTMIN) / 2, n;

	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (signals[i].sig == sig) {
			n = snprintf(buf, len, "SIG%s", signals[i].name);
			return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
		}
	if (sig < SIGRTMIN || sig > SIGRTMAX)
		return -EINVAL;
	/* bash's kill -l: RTMIN+n up to the middle, RTMAX-n above it */
	if (sig == SIGRTMIN)
		n = snprintf(buf, len, "SIGRTMIN");
	else if (sig == SIGRTMAX)
		n = snprintf(buf, len, "SIGRTMAX");
	else if (sig - SIGRTMIN <= half)
		n = snprintf(buf, len, "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		n = snprintf(buf, len, "SIGRTMAX-%d", SIGRTMAX - sig);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}
