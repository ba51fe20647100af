/* hull images [-q] [--no-trunc] [--format TMPL]: REPOSITORY TAG IMAGE ID CREATED SIZE */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "engine/human.h"
#include "engine/inspect.h"
#include "engine/table.h"
#include "image/image.h"

/* One --format line: the table's columns and the platform, by docker's field names. */
static int print_row(const char *format, const char *const cols[5],
		     const struct image_info *im, struct hull_err *err)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Repository", cols[0],
			      "Tag", cols[1], "ID", cols[2], "CreatedSince", cols[3], "Size",
			      cols[4], "Os", im->os ? im->os : "", "Architecture",
			      im->arch ? im->arch : "", "Variant", im->variant ? im->variant : "");
	char *line = engine_format(format, o, err);

	json_decref(o);
	if (!line)
		return -EINVAL;
	printf("%s\n", line);
	free(line);
	return 0;
}

int cmd_images(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "quiet", no_argument, NULL, 'q', NULL, "print image ids only" },
		{ "all", no_argument, NULL, 'a', NULL, "all images (accepted: there are no "
							 "intermediate images)" },
		{ "no-trunc", no_argument, NULL, 'N', NULL, "print full image ids" },
		{ "format", required_argument, NULL, 'F', "TEMPLATE",
		  "a Go template per image: {{.Repository}} {{.Tag}} {{.ID}} {{.CreatedSince}} "
		  "{{.Size}} {{.Os}} {{.Architecture}} {{.Variant}}" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "images", .args = "[OPTIONS]", .optstring = "+qa", .opts = opts,
		.summary = "List images: REPOSITORY TAG IMAGE ID CREATED SIZE.",
	};
	cleanup_image_store struct image_store *s = NULL;
	struct image_list l = { 0 };
	struct table *t = NULL;
	struct hull_err err = { 0 };
	bool quiet = false, no_trunc = false;
	const char *format = NULL;
	time_t now = time(NULL);
	int c;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c == 'q')
			quiet = cli_opt_on;
		else if (c == 'N')
			no_trunc = cli_opt_on;
		else if (c == 'F')
			format = optarg;
		else if (c != 'a')
			return EXIT_ENGINE;
	}
	if (optind < argc)
		return cli_usage_error("images", "unexpected argument '%s'", argv[optind]);
	if (cli_store_open("images", &s) != 0)
		return EXIT_ENGINE;
	if (image_list(s, &l, &err) < 0)
		return cli_fail("images", &err);
	t = table_new(5);
	if (!quiet && !format)
		table_add(t, (const char *[]){ "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE" });
	for (size_t i = 0; i < l.n; i++) {
		const struct image_info *im = &l.v[i];
		char *repo = NULL, *tag = NULL;
		char id[DIGEST_STR_LEN + 1], ago[64], since[72], size[32];
		time_t created = human_parse_time(im->created);

		(void)snprintf(id, sizeof(id), "%s", no_trunc ? im->config : im->config + 7);
		if (!no_trunc)
			id[12] = '\0';
		if (quiet) {
			/* docker prints each id once */
			bool seen = false;

			for (size_t j = 0; j < i; j++)
				seen = seen || strcmp(l.v[j].config, im->config) == 0;
			if (!seen)
				printf("%s\n", id);
			continue;
		}
		if (im->name)
			image_ref_split(im->name, &repo, &tag);
		human_duration(now - created, ago, sizeof(ago));
		(void)snprintf(since, sizeof(since), "%s ago", ago);
		human_size(im->size, size, sizeof(size));
		if (format) {
			const char *cols[] = { repo ? repo : "<none>", tag ? tag : "<none>", id,
					       created ? since : "N/A", size };

			if (print_row(format, cols, im, &err) < 0) {
				free(repo);
				free(tag);
				image_list_free(&l);
				table_free(t);
				return cli_fail("images", &err);
			}
		} else {
			table_add(t, (const char *[]){ repo ? repo : "<none>", tag ? tag : "<none>",
						       id, created ? since : "N/A", size });
		}
		free(repo);
		free(tag);
	}
	image_list_free(&l);
	table_print(t, stdout);
	table_free(t);
	return 0;
}
