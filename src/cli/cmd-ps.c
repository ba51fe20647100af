/* hull ps [-a] [-q] [--no-trunc] [-f KEY=VALUE]...:
 * CONTAINER ID  IMAGE  COMMAND  CREATED  STATUS  PORTS  NAMES */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/strv.h"
#include "engine/lifecycle.h"
#include "engine/container.h"
#include "engine/human.h"
#include "engine/network.h"
#include "engine/table.h"

static void status_text(struct ctr *c, time_t now, char *buf, size_t len)
{
	char d[64];

	switch (ctr_status_live(c)) {
	case CTR_RUNNING:
		human_duration(now - human_parse_time(c->state.started_at),
			       d, sizeof(d));
		(void)snprintf(buf, len, "Up %s", d);
		break;
	case CTR_EXITED:
		human_duration(now - human_parse_time(c->state.finished_at),
			       d, sizeof(d));
		(void)snprintf(buf, len, "Exited (%d) %s ago", c->state.exit_code, d);
		break;
	case CTR_DEAD:
		(void)snprintf(buf, len, "Dead");
		break;
	case CTR_CREATED:
	case CTR_STATUS_COUNT:
	default:
		(void)snprintf(buf, len, "Created");
		break;
	}
}

static char *command_text(struct ctr *c, bool no_trunc)
{
	cleanup_free char *joined = xstrdup("");

	for (size_t i = 0; c->config.cmd[i]; i++) {
		char *n = xasprintf("%s%s%s", joined, i ? " " : "", c->config.cmd[i]);

		free(joined);
		joined = n;
	}
	if (!no_trunc && strlen(joined) > 20) {
		joined[19] = '\0';
		return xasprintf("\"%s…\"", joined);
	}
	return xasprintf("\"%s\"", joined);
}

/* docker's filters that hull knows: label=KEY[=VALUE], name=SUBSTRING, id=PREFIX,
 * status=STATUS; a status filter lists stopped containers without -a, as docker */
static const char *const filter_keys[] = { "label", "name", "id", "status" };

static int filter_check(const char *f)
{
	size_t k = strcspn(f, "=");

	for (size_t i = 0; i < ARRAY_SIZE(filter_keys); i++)
		if (strlen(filter_keys[i]) == k && strncmp(f, filter_keys[i], k) == 0 && f[k] &&
		    f[k + 1])
			return 0;
	return cli_usage_error("ps", "--filter %s: invalid filter (label=KEY[=VALUE], name=, "
			       "id= or status=)", f);
}

/* Every filter holds (docker ANDs filters of different keys; so do we, all of them). */
static bool filters_match(struct ctr *c, char *const *filters)
{
	for (size_t i = 0; filters && filters[i]; i++) {
		const char *f = filters[i], *v = strchr(f, '=') + 1;

		if (strncmp(f, "label=", 6) == 0 && !ctr_labels_match(c->config.labels, v))
			return false;
		if (strncmp(f, "name=", 5) == 0 && !strstr(c->name, v))
			return false;
		if (strncmp(f, "id=", 3) == 0 && strncmp(c->id, v, strlen(v)) != 0)
			return false;
		if (strncmp(f, "status=", 7) == 0 &&
		    strcmp(ctr_status_name(ctr_status_live(c)), v) != 0)
			return false;
	}
	return true;
}

static bool has_status_filter(char *const *filters)
{
	for (size_t i = 0; filters && filters[i]; i++)
		if (strncmp(filters[i], "status=", 7) == 0)
			return true;
	return false;
}

int cmd_ps(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "all", no_argument, NULL, 'a', NULL, "all containers (default: running ones)" },
		{ "quiet", no_argument, NULL, 'q', NULL, "print container ids only" },
		{ "no-trunc", no_argument, NULL, 'N', NULL, "do not truncate ids and commands" },
		{ "filter", required_argument, NULL, 'f', "KEY=VALUE",
		  "only containers with label=KEY[=VALUE], name=, id= or status= (all must hold)" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "ps", .args = "[OPTIONS]", .optstring = "+aqf:", .opts = opts,
		.summary = "List containers.",
	};
	cleanup_image_store struct image_store *s = NULL;
	cleanup_strv char **filters = NULL;
	struct ctr **all = NULL;
	struct table *t = NULL;
	struct hull_err err = { 0 };
	bool show_all = false, quiet = false, no_trunc = false;
	time_t now = time(NULL);
	int c;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c == 'a')
			show_all = cli_opt_on;
		else if (c == 'q')
			quiet = cli_opt_on;
		else if (c == 'N')
			no_trunc = cli_opt_on;
		else if (c == 'f' && filter_check(optarg) == 0)
			strv_push(&filters, optarg);
		else
			return EXIT_ENGINE;
	}
	if (optind < argc)
		return cli_usage_error("ps", "unexpected argument '%s'", argv[optind]);
	if (cli_store_open("ps", &s) != 0)
		return EXIT_ENGINE;
	show_all = show_all || has_status_filter(filters);
	if (ctr_list(s, &all, &err) < 0)
		return cli_fail("ps", &err);
	t = table_new(7);
	if (!quiet)
		table_add(t, (const char *[]){ "CONTAINER ID", "IMAGE", "COMMAND", "CREATED",
					       "STATUS", "PORTS", "NAMES" });
	/* newest first, as docker */
	for (size_t n = 0; all[n]; n++) {
		struct ctr *ct;
		size_t i = 0;
		char st[96], created[64], id[CTR_ID_LEN + 1];

		while (all[i + 1])
			i++;
		i -= n;
		ct = all[i];
		if ((!show_all && ctr_status_live(ct) != CTR_RUNNING) || !filters_match(ct, filters))
			continue;
		(void)snprintf(id, sizeof(id), "%s", ct->id);
		if (!no_trunc)
			id[12] = '\0';
		if (quiet) {
			printf("%s\n", id);
			continue;
		}
		status_text(ct, now, st, sizeof(st));
		/* the kind, where docker has none: a microVM's STATUS ends in "(vm)" */
		if (ct->backend && strcmp(ct->backend, "vm") == 0)
			(void)strncat(st, " (vm)", sizeof(st) - strlen(st) - 1);
		human_duration(now - human_parse_time(ct->created), created,
			       sizeof(created));
		{
			cleanup_free char *cmd = command_text(ct, no_trunc);
			cleanup_free char *cr = xasprintf("%s ago", created);
			cleanup_free char *ports = engine_net_ports_text(ct);

			table_add(t, (const char *[]){ id, ct->image, cmd, cr, st, ports, ct->name });
		}
	}
	ctr_list_free(all);
	table_print(t, stdout);
	table_free(t);
	return 0;
}
