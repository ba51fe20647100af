/*
 * init: a static multi-call helper to run as the process of test bundles (STYLE.md "Tests").
 * It reports what the container gave it, so that tests check behaviour from inside:
 *
 *   init true | false | exit N | sleep SECS | pause
 *   init fds | cwd | ids | umask | hostname | env
 *   init status KEY...      lines of /proc/self/status (CapEff, NoNewPrivs, Uid, ...)
 *   init rlimit NAME        "soft hard" of RLIMIT_<NAME> (NOFILE, NPROC, CORE, ...)
 *   init cat FILE...        init write FILE TEXT
 *
 * The command is argv[1], or the basename of argv[0] when it is not "init". pause waits for
 * SIGTERM/SIGINT/SIGHUP/SIGUSR1 and exits 128+signal. Built -static without sanitizers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static int cat(const char *path)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "init: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			break;
	close(fd);
	return n < 0;
}

static int fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d) {
		perror("init: /proc/self/fd");
		return 1;
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && strtol(de->d_name, NULL, 10) != dirfd(d))
			printf("%s\n", de->d_name);
	closedir(d);
	return 0;
}

static int status(int n, char **keys)
{
	char line[512];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f) {
		perror("init: /proc/self/status");
		return 1;
	}
	while (fgets(line, sizeof(line), f))
		for (int i = 0; i < n; i++)
			if (strncmp(line, keys[i], strlen(keys[i])) == 0 &&
			    line[strlen(keys[i])] == ':')
				fputs(line, stdout);
	fclose(f);
	return 0;
}

static int rlimit(const char *name)
{
	static const struct {
		const char *name;
		int res;
	} names[] = {
		{ "NOFILE", RLIMIT_NOFILE }, { "NPROC", RLIMIT_NPROC }, { "CORE", RLIMIT_CORE },
		{ "STACK", RLIMIT_STACK },   { "AS", RLIMIT_AS },	{ "CPU", RLIMIT_CPU },
		{ "FSIZE", RLIMIT_FSIZE },   { "MEMLOCK", RLIMIT_MEMLOCK },
	};
	struct rlimit rl;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i].name) != 0)
			continue;
		if (getrlimit(names[i].res, &rl) < 0)
			return 1;
		printf("%llu %llu\n", (unsigned long long)rl.rlim_cur,
		       (unsigned long long)rl.rlim_max);
		return 0;
	}
	fprintf(stderr, "init: unknown rlimit %s\n", name);
	return 2;
}

static void on_signal(int sig)
{
	_exit(128 + sig);
}

static int ids(void)
{
	gid_t groups[256];
	int n = getgroups(256, groups);

	printf("uid=%u gid=%u groups=", (unsigned)getuid(), (unsigned)getgid());
	for (int i = 0; i < n; i++)
		printf("%s%u", i ? "," : "", (unsigned)groups[i]);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	char buf[4096];
	const char *cmd;

	if (strcmp(base, "init") != 0) {
		cmd = base;
	} else if (argc > 1) {
		cmd = argv[1];
		argv++;
		argc--;
	} else {
		fprintf(stderr, "usage: init COMMAND [ARGS]\n");
		return 2;
	}
	if (strcmp(cmd, "true") == 0)
		return 0;
	if (strcmp(cmd, "false") == 0)
		return 1;
	if (strcmp(cmd, "exit") == 0)
		return argc > 1 ? (int)strtol(argv[1], NULL, 10) : 0;
	if (strcmp(cmd, "sleep") == 0)
		return argc > 1 ? (int)sleep((unsigned)strtoul(argv[1], NULL, 10)) : 2;
	if (strcmp(cmd, "pause") == 0) {
		signal(SIGTERM, on_signal);
		signal(SIGINT, on_signal);
		signal(SIGHUP, on_signal);
		signal(SIGUSR1, on_signal);
		for (;;)
			pause();
	}
	if (strcmp(cmd, "fds") == 0)
		return fds();
	if (strcmp(cmd, "cwd") == 0)
		return getcwd(buf, sizeof(buf)) ? (printf("%s\n", buf), 0) : 1;
	if (strcmp(cmd, "ids") == 0)
		return ids();
	if (strcmp(cmd, "umask") == 0) {
		mode_t m = umask(0);

		printf("%04o\n", (unsigned)m);
		return 0;
	}
	if (strcmp(cmd, "hostname") == 0)
		return gethostname(buf, sizeof(buf)) == 0 ? (printf("%s\n", buf), 0) : 1;
	if (strcmp(cmd, "env") == 0) {
		for (char **e = environ; *e; e++)
			printf("%s\n", *e);
		return 0;
	}
	if (strcmp(cmd, "status") == 0)
		return status(argc - 1, argv + 1);
	if (strcmp(cmd, "rlimit") == 0)
		return argc > 1 ? rlimit(argv[1]) : 2;
	if (strcmp(cmd, "cat") == 0) {
		int r = 0;

		for (int i = 1; i < argc; i++)
			r |= cat(argv[i]);
		return r;
	}
	if (strcmp(cmd, "write") == 0 && argc > 2) {
		int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd < 0 || write(fd, argv[2], strlen(argv[2])) < 0) {
			fprintf(stderr, "init: write %s: %s\n", argv[1], strerror(errno));
			return 1;
		}
		close(fd);
		return 0;
	}
	fprintf(stderr, "init: unknown command %s\n", cmd);
	return 2;
}
