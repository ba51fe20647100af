/* hull pull [docker://]REF | oci:DIR[:TAG] | oci-archive:FILE[:TAG] | docker-archive:FILE:
 * one call, the transport found by image/source.c */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/registry-cli.h"
#include "common/alloc.h"
#include "common/strv.h"
#include "image/image.h"
#include "image/registry.h"
#include "image/source.h"
#include "image/transfer.h"

void cli_pull_init(struct cli_pull *p)
{
	memset(p, 0, sizeof(*p));
	cli_registry_init(&p->reg);
}

int cli_pull_opt(const char *cmd, struct cli_pull *p, int opt, const char *arg)
{
	static const char *const names[] = { "missing", "always", "never" };

	if (opt == CLI_REG_PLATFORM) {
		if (cli_platform_check(cmd, arg) != 0)
			return EXIT_ENGINE;
		p->reg.o.platform = arg;
		return 0;
	}
	if (opt != CLI_REG_PULL)
		return cli_registry_opt(&p->reg, opt, arg) == 0 ? 0 : 1;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(arg, names[i]) == 0) {
			p->policy = (enum cli_pull_policy)i;
			return 0;
		}
	return cli_usage_error(cmd, "--pull %s: expected always, missing or never", arg);
}

static int pull_one(const char *cmd, struct image_store *s, struct cli_pull *p,
		    const char *image, bool missing)
{
	cleanup_strv char **names = NULL;
	struct image_source_opts so = { .registry = &p->reg.o };
	struct hull_err err = { 0 };

	cli_registry_finish(&p->reg);
	so.progress = cli_registry_progress(&p->reg, false);
	if (image_pull(s, image, &so, &names, &err) < 0) {
		/* docker's words, then why the pull failed, on one line */
		if (missing)
			(void)hull_err_prefix(&err, "no such image: %s, and pulling it failed",
					      image);
		return cli_fail(cmd, &err);
	}
	if (names && names[0])
		p->image = xstrdup(names[0]);
	return 0;
}

int cli_pull_image(const char *cmd, struct image_store *s, struct cli_pull *p,
		   const char *image)
{
	struct image_info info = { 0 };
	struct hull_err err = { 0 };
	int r;

	if (p->policy == CLI_PULL_NEVER) /* the lookup of the create says "no such image" */
		return 0;
	if (p->policy == CLI_PULL_ALWAYS)
		return pull_one(cmd, s, p, image, false);
	r = image_lookup(s, image, &info, &err);
	image_info_clear(&info);
	if (r != -ENOENT)
		return 0; /* there, or ambiguous: the create says which */
	fprintf(stderr, "Unable to find image '%s' locally\n", image);
	return pull_one(cmd, s, p, image, true);
}

void cli_pull_free(struct cli_pull *p)
{
	cli_registry_free(&p->reg);
	free(p->image);
	p->image = NULL;
}

int cmd_pull(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "quiet", no_argument, NULL, 'q', NULL, "print nothing" },
		{ "platform", required_argument, NULL, CLI_REG_PLATFORM, "OS/ARCH[/VARIANT]",
		  "the platform to pick from an index (default: the host's)" },
		CLI_REGISTRY_OPTIONS,
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "pull", .optstring = "+q", .opts = opts,
		.args = "[OPTIONS] [REGISTRY/]REPO[:TAG|@DIGEST] | oci:DIR[:TAG] | "
			"oci-archive:FILE[:TAG] | docker-archive:FILE",
		.summary = "Copy an image from a registry or an archive into the store.",
	};
	cleanup_image_store struct image_store *s = NULL;
	cleanup_strv char **names = NULL;
	struct image_source_opts so = { 0 };
	struct cli_registry c;
	struct hull_err err = { 0 };
	bool quiet;
	int r = cli_registry_parse("pull", &def, argc, argv, &c, &quiet);

	if (r == 0 && optind + 1 != argc)
		r = cli_usage_error("pull", "usage: hull pull [OPTIONS] REFERENCE | oci:DIR[:TAG] | "
					    "oci-archive:FILE[:TAG] | docker-archive:FILE");
	if (r == 0 && cli_store_open("pull", &s) != 0)
		r = EXIT_ENGINE;
	if (r == 0) {
		cli_registry_finish(&c);
		so.registry = &c.o;
		so.progress = cli_registry_progress(&c, quiet);
		if (image_pull(s, argv[optind], &so, &names, &err) < 0)
			r = cli_fail("pull", &err);
	}
	for (size_t i = 0; r == 0 && !quiet && names && names[i]; i++)
		printf("%s\n", names[i]);
	cli_registry_free(&c);
	return r;
}
