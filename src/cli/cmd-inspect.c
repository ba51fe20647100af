/* hull inspect [--type container|image] [-f FORMAT] NAME...: a JSON array, or FORMAT per item. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "engine/inspect.h"

static json_t *find(struct image_store *s, const char *ref, const char *type,
		    struct hull_err *err)
{
	cleanup_ctr struct ctr *c = NULL;
	struct image_info img = { 0 };
	json_t *v;

	if (!type || strcmp(type, "container") == 0) {
		if (ctr_load(s, ref, &c, err) == 0)
			return engine_inspect_container(c, err);
		if (type)
			return NULL;
	}
	if (image_lookup(s, ref, &img, err) < 0) {
		if (!type)
			(void)hull_err_setx(err, ENOENT, "no such object: %s", ref);
		return NULL;
	}
	v = engine_inspect_image(s, &img, err);
	image_info_clear(&img);
	return v;
}

int cmd_inspect(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "format", required_argument, NULL, 'f', "TEMPLATE",
		  "print each object through a Go-style template ({{.Id}}, {{json .Config}})" },
		{ "type", required_argument, NULL, 'T', "TYPE", "container or image" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "inspect", .args = "[OPTIONS] NAME|ID...", .optstring = "+f:",
		.opts = opts, .summary = "Show containers or images as JSON.",
	};
	cleanup_image_store struct image_store *s = NULL;
	json_t *arr = json_array();
	const char *format = NULL, *type = NULL;
	int c, rc = 0;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c == 'f') {
			format = optarg;
		} else if (c == 'T') {
			type = optarg;
			if (strcmp(type, "container") != 0 && strcmp(type, "image") != 0) {
				json_decref(arr);
				return cli_usage_error("inspect", "--type %s: expected container or "
								  "image", type);
			}
		} else {
			json_decref(arr);
			return EXIT_ENGINE;
		}
	}
	if (optind >= argc || cli_store_open("inspect", &s) != 0) {
		json_decref(arr);
		return optind >= argc ? cli_usage_error("inspect", "usage: hull inspect [-f FORMAT] "
								 "NAME...")
				      : EXIT_ENGINE;
	}
	for (int i = optind; i < argc; i++) {
		struct hull_err err = { 0 };
		json_t *v = find(s, argv[i], type, &err);

		if (!v) {
			rc = cli_fail("inspect", &err);
			continue;
		}
		if (format) {
			cleanup_free char *out = engine_format(format, v, &err);

			json_decref(v);
			if (!out) {
				json_decref(arr);
				return cli_fail("inspect", &err);
			}
			printf("%s\n", out);
			continue;
		}
		(void)json_array_append_new(arr, v);
	}
	if (!format) {
		cleanup_free char *out = hjson_dump(arr, JSON_INDENT(4));

		printf("%s\n", out);
	}
	json_decref(arr);
	return rc;
}
