#pragma once
/* What hull pull, push, login and logout share (cmd-login.c, registry-cli.c). */
#include <stdbool.h>
#include <stdint.h>

#include "image/registry.h"

enum {
	CLI_REG_TLS_VERIFY = 0x1000,
	CLI_REG_CERT_DIR,
	CLI_REG_AUTHFILE,
	CLI_REG_PLATFORM,
	CLI_REG_PULL,
};

#define CLI_REGISTRY_OPTIONS                                                                 \
	{ "tls-verify", no_argument, NULL, CLI_REG_TLS_VERIFY, NULL,                          \
	  "verify the registry's TLS certificate (=false also allows plain HTTP)" },         \
	{ "cert-dir", required_argument, NULL, CLI_REG_CERT_DIR, "DIR",                      \
	  "also look for HOST:PORT/*.crt CA certificates in DIR" },                          \
	{ "authfile", required_argument, NULL, CLI_REG_AUTHFILE, "FILE",                     \
	  "credentials file (default ${XDG_RUNTIME_DIR}/containers/auth.json)" }

struct cli_registry {
	struct registry_opts o;
	char **auth_files, **cert_dirs;
	char *auth_write;
	struct registry_progress progress;
	char **lines; /* digests in the order of their progress lines */
	size_t nlines;
	long last_ms;
};

/* Defaults from the environment ($REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR, $HOME,
 * $HULL_REGISTRY_TIMEOUT, $HULL_PUSH_CHUNK_SIZE, $CONTAINERS_REGISTRIES_CONF). */
void cli_registry_init(struct cli_registry *c);
/* Handle a shared flag: 0, or 1 when opt is not one. */
int cli_registry_opt(struct cli_registry *c, int opt, const char *arg);
/*
 * The flags of hull pull and push: -q (*ret_quiet), --platform (checked) and the registry
 * ones, as def lists them, into c (initialised here; cli_registry_free it whatever the
 * result). 0 with optind at the first operand, or EXIT_ENGINE after printing.
 */
struct cli_command;
int cli_registry_parse(const char *cmd, const struct cli_command *def, int argc, char **argv,
		       struct cli_registry *c, bool *ret_quiet);
/* A --platform value: 0, or EXIT_ENGINE after printing one line naming the flag. */
int cli_platform_check(const char *cmd, const char *arg);
/* Point c->o at the lists, after the flags. */
void cli_registry_finish(struct cli_registry *c);
void cli_registry_free(struct cli_registry *c);
/* The progress lines on a terminal; NULL when quiet or piped. */
const struct registry_progress *cli_registry_progress(struct cli_registry *c, bool quiet);

/* hull run / create: when to pull the image (docker's --pull), for which platform. */
enum cli_pull_policy { CLI_PULL_MISSING, CLI_PULL_ALWAYS, CLI_PULL_NEVER };

#define CLI_PULL_OPTIONS                                                                     \
	{ "pull", required_argument, NULL, CLI_REG_PULL, "POLICY",                            \
	  "pull the image: always, missing (when not in the store, the default) or never" },  \
	{ "platform", required_argument, NULL, CLI_REG_PLATFORM, "OS/ARCH[/VARIANT]",          \
	  "the platform to pull from an index (default: the host's)" },                      \
	CLI_REGISTRY_OPTIONS

struct cli_pull {
	struct cli_registry reg;
	enum cli_pull_policy policy;
	char *image; /* the name pulled, to run instead of the one given; or NULL */
};

void cli_pull_init(struct cli_pull *p);
/* Handle a --pull/--platform/registry flag: 0; 1 when opt is not one; EXIT_ENGINE after
 * printing a bad value naming the flag. */
int cli_pull_opt(const char *cmd, struct cli_pull *p, int opt, const char *arg);
/* Apply the policy to image before the container is made: 0 (p->image set when pulled),
 * or EXIT_ENGINE after printing. */
int cli_pull_image(const char *cmd, struct image_store *s, struct cli_pull *p,
		   const char *image);
void cli_pull_free(struct cli_pull *p);
