/* hull login / logout REGISTRY, and what pull, push and login share: the registry options,
 * the auth files and certificate directories, the progress lines. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/registry-cli.h"
#include "common/alloc.h"
#include "common/strv.h"
#include "image/auth.h"
#include "image/reference.h"

void cli_registry_init(struct cli_registry *c)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	const char *home = getenv("HOME");
	const char *env = getenv("REGISTRY_AUTH_FILE");
	const char *t = getenv("HULL_REGISTRY_TIMEOUT");
	const char *chunk = getenv("HULL_PUSH_CHUNK_SIZE");

	*c = (struct cli_registry){ .o = { .tls_verify = true } };
	/* podman's order: $REGISTRY_AUTH_FILE, then ${XDG_RUNTIME_DIR}/containers/auth.json
	 * (/run/containers/UID/auth.json without it), and docker's config.json for reading */
	if (env && *env)
		c->auth_write = xstrdup(env);
	else if (xdg && *xdg)
		c->auth_write = xasprintf("%s/containers/auth.json", xdg);
	else
		c->auth_write = xasprintf("/run/containers/%u/auth.json", (unsigned)getuid());
	strv_push(&c->auth_files, c->auth_write);
	if (home && *home)
		strv_push_owned(&c->auth_files, xasprintf("%s/.docker/config.json", home));
	strv_push(&c->cert_dirs, "/etc/containers/certs.d");
	strv_push(&c->cert_dirs, "/etc/docker/certs.d");
	if (t && *t)
		c->o.timeout_s = (unsigned)strtoul(t, NULL, 10);
	if (chunk && *chunk)
		c->o.chunk_size = strtoull(chunk, NULL, 10);
	/* containers/image's variable; its drop-ins are FILE.d (docs/registry.md) */
	c->o.registries_conf = getenv("CONTAINERS_REGISTRIES_CONF");
	if (!c->o.registries_conf || !*c->o.registries_conf)
		c->o.registries_conf = "/etc/containers/registries.conf";
}

void cli_registry_finish(struct cli_registry *c)
{
	c->o.auth_files = c->auth_files;
	c->o.cert_dirs = c->cert_dirs;
}

void cli_registry_free(struct cli_registry *c)
{
	strv_free(c->auth_files);
	strv_free(c->cert_dirs);
	free(c->auth_write);
	for (size_t i = 0; i < c->nlines; i++)
		free(c->lines[i]);
	free(c->lines);
}

/* docker's progress: one line per blob, rewritten in place (a terminal only). */
static void on_blob(void *ctx, const char *digest, uint64_t done, uint64_t total,
		    const char *state)
{
	struct cli_registry *c = ctx;
	struct timespec now;
	size_t i;
	long ms;

	for (i = 0; i < c->nlines && strcmp(c->lines[i], digest) != 0; i++)
		;
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	ms = now.tv_sec * 1000 + now.tv_nsec / 1000000;
	if (i == c->nlines) {
		c->lines = xreallocarray(c->lines, c->nlines + 1, sizeof(*c->lines));
		c->lines[c->nlines++] = xstrdup(digest);
		printf("\n");
	} else if (done < total && ms - c->last_ms < 100) {
		return;
	}
	c->last_ms = ms;
	printf("\033[%zuA\r\033[2K%.12s: %s", c->nlines - i, digest + 7, state);
	if (total && done < total)
		printf(" %llu/%llu KiB", (unsigned long long)(done >> 10),
		       (unsigned long long)(total >> 10));
	printf("\033[%zuB\r", c->nlines - i);
	(void)fflush(stdout);
}

const struct registry_progress *cli_registry_progress(struct cli_registry *c, bool quiet)
{
	c->progress = (struct registry_progress){ .blob = on_blob, .ctx = c };
	return !quiet && isatty(STDOUT_FILENO) ? &c->progress : NULL;
}

/* "https://host:port/" or "docker.io/x" -> the registry's key: "host:port". */
static char *registry_key(const char *arg)
{
	const char *p = strstr(arg, "://");
	const char *s = p ? p + 3 : arg;

	if (strncmp(s, "index.docker.io", 15) == 0 && (s[15] == '\0' || s[15] == '/'))
		return xstrdup("docker.io");
	return xstrndup(s, strcspn(s, "/"));
}

/* A password from stdin (--password-stdin): one line, without its newline. */
static char *read_password(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);

	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

/* The flags pull, push and login share; 0 when c is one of them, else 1. */
int cli_registry_opt(struct cli_registry *c, int opt, const char *arg)
{
	switch (opt) {
	case CLI_REG_TLS_VERIFY:
		c->o.tls_verify = cli_opt_on;
		return 0;
	case CLI_REG_CERT_DIR:
		strv_push(&c->cert_dirs, arg);
		return 0;
	case CLI_REG_AUTHFILE:
		free(c->auth_write);
		c->auth_write = xstrdup(arg);
		strv_free(c->auth_files);
		c->auth_files = NULL;
		strv_push(&c->auth_files, arg);
		return 0;
	default:
		return 1;
	}
}

int cmd_login(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "username", required_argument, NULL, 'u', "USER", "the user name" },
		{ "password", required_argument, NULL, 'p', "PASSWORD", "the password" },
		{ "password-stdin", no_argument, NULL, 'P', NULL, "read the password from stdin" },
		CLI_REGISTRY_OPTIONS,
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "login", .optstring = "+u:p:", .opts = opts,
		.args = "[OPTIONS] REGISTRY",
		.summary = "Check credentials with a registry and store them in the auth file.",
	};
	struct cli_registry c;
	struct hull_err err = { 0 };
	cleanup_free char *key = NULL;
	cleanup_free char *pw_in = NULL;
	const char *user = NULL, *pass = NULL;
	bool from_stdin = false;
	int opt, r = 0;

	cli_registry_init(&c);
	while (r == 0 && (opt = cli_getopt(argc, argv, &def)) != -1) {
		if (opt == 'u')
			user = optarg;
		else if (opt == 'p')
			pass = optarg;
		else if (opt == 'P')
			from_stdin = cli_opt_on;
		else if (cli_registry_opt(&c, opt, optarg) != 0)
			r = EXIT_ENGINE;
	}
	if (r == 0 && optind + 1 != argc)
		r = cli_usage_error("login", "usage: hull login [OPTIONS] REGISTRY");
	if (r == 0 && from_stdin)
		pass = pw_in = read_password();
	if (r == 0 && (!user || !pass))
		r = cli_usage_error("login", "--username and --password (or --password-stdin) "
					     "are required");
	if (r == 0) {
		key = registry_key(argv[optind]);
		c.o.username = user;
		c.o.password = pass;
		cli_registry_finish(&c);
		if (registry_login_check(key, &c.o, &err) < 0 ||
		    auth_store(c.auth_write, key, user, pass, &err) < 0)
			r = cli_fail("login", &err);
		else
			printf("Login Succeeded!\n");
	}
	cli_registry_free(&c);
	return r;
}

int cmd_logout(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "authfile", required_argument, NULL, CLI_REG_AUTHFILE, "FILE",
		  "the auth file to change" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "logout", .optstring = "+", .opts = opts, .args = "[OPTIONS] REGISTRY",
		.summary = "Remove a registry's credentials from the auth file.",
	};
	struct cli_registry c;
	struct hull_err err = { 0 };
	cleanup_free char *key = NULL;
	bool found = false;
	int opt, r = 0;

	cli_registry_init(&c);
	while (r == 0 && (opt = cli_getopt(argc, argv, &def)) != -1)
		if (cli_registry_opt(&c, opt, optarg) != 0)
			r = EXIT_ENGINE;
	if (r == 0 && optind + 1 != argc)
		r = cli_usage_error("logout", "usage: hull logout [OPTIONS] REGISTRY");
	if (r == 0) {
		key = registry_key(argv[optind]);
		if (auth_remove(c.auth_write, key, &found, &err) < 0)
			r = cli_fail("logout", &err);
		else if (!found)
			r = cli_usage_error("logout", "not logged in to %s", key);
		else
			printf("Removed login credentials for %s\n", key);
	}
	cli_registry_free(&c);
	return r;
}
