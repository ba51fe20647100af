/*
 * hull network create|ls|inspect|rm|prune|connect|disconnect, and hull port: the networks of docs/engine.md
 * ("Networks"), definitions in <store>/networks (src/net/netdef.h).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/objcmd.h"
#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/strv.h"
#include "engine/container.h"
#include "engine/netconnect.h"
#include "engine/network.h"
#include "engine/table.h"
#include "image/store.h"
#include "net/ipam.h"
#include "net/net.h"
#include "net/netdef.h"

static const struct cli_option no_opts[] = { { 0 } };

#define NETWORK_USAGE "usage: hull network create|ls|inspect|rm|prune|connect|disconnect ..."

static const struct cli_option create_opts[] = {
	{ "subnet", required_argument, NULL, 's', "CIDR", "the IPv4 subnet (a.b.c.d/N)" },
	{ "gateway", required_argument, NULL, 'g', "ADDR", "the gateway (default: the first "
							     "address)" },
	{ "internal", no_argument, NULL, 'i', NULL, "no route out of the network" },
	{ "ipv6", no_argument, NULL, '6', NULL, "an IPv6 subnet too (a ULA /64)" },
	{ "driver", required_argument, NULL, 'd', "DRIVER", "bridge (the only one)" },
	{ 0 },
};
static const struct cli_command create_def = {
	.name = "network create", .args = "[OPTIONS] NAME", .optstring = "+d:",
	.opts = create_opts, .summary = "Create a bridge network.",
};

static int net_create(int argc, char **argv)
{
	cleanup_image_store struct image_store *s = NULL;
	cleanup_close int lock = -1;
	struct net_def_opts o = { 0 };
	struct hull_err err = { 0 };
	json_t *def = NULL;
	int c;

	while ((c = cli_getopt(argc, argv, &create_def)) != -1) {
		switch (c) {
		case 's': o.subnet = optarg; break;
		case 'g': o.gateway = optarg; break;
		case 'i': o.internal = cli_opt_on; break;
		case '6': o.ipv6 = cli_opt_on; break;
		case 'd':
			if (strcmp(optarg, "bridge") != 0)
				return cli_usage_error("network create", "--driver %s: only bridge "
						       "is supported", optarg);
			break;
		default: return EXIT_ENGINE;
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("network create", "usage: hull network create [OPTIONS] "
				       "NAME");
	if (o.gateway && !o.subnet)
		return cli_usage_error("network create", "--gateway %s: give --subnet too",
				       o.gateway);
	if (cli_store_open("network create", &s) != 0)
		return EXIT_ENGINE;
	lock = net_lock(s->root, &err);
	if (lock < 0 || net_def_create(s->root, argv[optind], &o, &def, &err) < 0)
		return cli_fail("network create", &err);
	printf("%s\n", json_string_value(json_object_get(def, "id")));
	json_decref(def);
	return 0;
}

/* networks/ is read and written under net_lock */
static int store_net_lock(struct image_store *s, struct hull_err *err)
{
	return net_lock(s->root, err);
}

static const objcmd_lock_fn net_locks[] = { store_net_lock, NULL };

static int net_ls(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "quiet", no_argument, NULL, 'q', NULL, "print names only" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "network ls", .args = "[OPTIONS]", .optstring = "+q", .opts = opts,
		.summary = "List networks.",
	};
	cleanup_strv char **names = NULL;
	struct objcmd o;
	struct table *t;
	int rc = objcmd_begin(&def, NULL, argc, argv, 0, 0, net_locks, &o);

	if (rc != 0) {
		objcmd_end(&o);
		return rc;
	}
	names = net_def_names(o.s->root);
	t = table_new(4);
	table_add(t, (const char *[]){ "NETWORK ID", "NAME", "DRIVER", "SCOPE" });
	for (size_t i = 0; names[i]; i++) {
		cleanup_json json_t *d = NULL;
		struct hull_err err = { 0 };
		char id[13];

		if (net_def_load(o.s->root, names[i], &d, &err) < 0)
			continue;
		(void)snprintf(id, sizeof(id), "%s",
			       json_string_value(json_object_get(d, "id")) ?: "");
		if (o.flag['q'])
			printf("%s\n", names[i]);
		else
			table_add(t, (const char *[]){ id, names[i], "bridge", "local" });
	}
	if (!o.flag['q'])
		table_print(t, stdout);
	table_free(t);
	objcmd_end(&o);
	return 0;
}

/* docker's shape: Name, Id, Driver, Internal, EnableIPv6, IPAM.Config, Containers. */
static json_t *inspect_one(struct image_store *s, json_t *d)
{
	const char *name = json_string_value(json_object_get(d, "name"));
	cleanup_strv char **users = engine_net_users(s, name);
	json_t *cfg = json_array();
	json_t *ctrs = json_object();
	size_t i;
	json_t *sn;

	json_array_foreach(json_object_get(d, "subnets"), i, sn)
		(void)json_array_append_new(cfg, json_pack("{s:O, s:O}", "Subnet",
							   json_object_get(sn, "subnet"), "Gateway",
							   json_object_get(sn, "gateway")));
	for (size_t k = 0; users && users[k]; k++) {
		cleanup_ctr struct ctr *c = NULL;
		struct hull_err e2;

		if (ctr_load(s, users[k], &c, &e2) == 0) {
			json_t *ns = engine_net_settings(c);

			(void)json_object_set_new(ctrs, c->id, json_pack("{s:s, s:O, s:O}", "Name",
				c->name, "IPv4Address", json_object_get(ns, "IPAddress"),
				"MacAddress", json_object_get(ns, "MacAddress")));
			json_decref(ns);
		}
	}
	return json_pack("{s:O, s:O, s:s, s:s, s:O, s:O, s:O, s:{s:s, s:o}, s:o, s:o}", "Name",
			 json_object_get(d, "name"), "Id", json_object_get(d, "id"), "Driver",
			 "bridge", "Scope", "local", "Internal", json_object_get(d, "internal"),
			 "EnableIPv6", json_object_get(d, "ipv6_enabled"), "DNSEnabled",
			 json_object_get(d, "dns_enabled"), "IPAM", "Driver", "default", "Config",
			 cfg, "Containers", ctrs, "Options",
			 json_pack("{s:O}", "com.docker.network.bridge.name",
				   json_object_get(d, "network_interface")));
}

static int inspect_name(struct image_store *s, const char *name, json_t **ret,
			struct hull_err *err)
{
	cleanup_json json_t *d = NULL;
	int r = net_def_load(s->root, name, &d, err);

	if (r < 0)
		return r;
	*ret = inspect_one(s, d);
	return 0;
}

static int net_inspect(int argc, char **argv)
{
	static const struct cli_command def = {
		.name = "network inspect", .args = "NETWORK...", .optstring = "+",
		.opts = no_opts,
		.summary = "Show networks as JSON.",
	};

	return objcmd_inspect(&def, "usage: hull network inspect NETWORK...", net_locks,
			      inspect_name, argc, argv);
}

/* Remove one network under the lock: refused while a container uses it. */
static int remove_one(struct image_store *s, const char *name, struct hull_err *err)
{
	cleanup_strv char **users = NULL;
	cleanup_json json_t *d = NULL;
	int r;

	if (strcmp(name, NET_DEFAULT) == 0)
		return hull_err_setx(err, EPERM, "%s is a pre-defined network and cannot be "
				     "removed", name);
	r = net_def_load(s->root, name, &d, err);
	if (r < 0)
		return r;
	users = engine_net_users(s, name);
	/* a VM's entry is "VM NAME" (engine/vmnet.h) */
	if (users)
		return hull_err_setx(err, EBUSY, "network %s is in use by %s%s", name,
				     strncmp(users[0], "VM ", 3) == 0 ? "" : "container ", users[0]);
	return net_def_remove(s->root, name, err);
}

static int net_rm(int argc, char **argv)
{
	static const struct cli_command def = {
		.name = "network rm", .args = "NETWORK...", .optstring = "+",
		.opts = no_opts,
		.summary = "Remove networks no container uses.",
	};

	return objcmd_rm(&def, "usage: hull network rm NETWORK...", net_locks, remove_one, argc,
			 argv);
}

static int net_prune(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "force", no_argument, NULL, 'f', NULL, "do not ask (hull never asks here)" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "network prune", .args = "[OPTIONS]", .optstring = "+f", .opts = opts,
		.summary = "Remove the user networks no container uses.",
	};
	cleanup_strv char **names = NULL;
	struct objcmd o;
	bool any = false;
	int rc = objcmd_begin(&def, NULL, argc, argv, 0, 0, net_locks, &o);

	if (rc != 0) {
		objcmd_end(&o);
		return rc;
	}
	names = net_def_names(o.s->root);
	for (size_t i = 0; names[i]; i++) {
		cleanup_strv char **users = NULL;
		struct hull_err err = { 0 };

		if (strcmp(names[i], NET_DEFAULT) == 0)
			continue;
		users = engine_net_users(o.s, names[i]);
		if (users || net_def_remove(o.s->root, names[i], &err) < 0)
			continue;
		if (!any)
			printf("Deleted Networks:\n");
		printf("%s\n", names[i]);
		any = true;
	}
	objcmd_end(&o);
	return 0;
}

/* hull network connect [--ip ADDR] [--alias NAME]... NETWORK CONTAINER */
static int net_connect(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "ip", required_argument, NULL, 'i', "ADDR", "the container's IPv4 address on it" },
		{ "alias", required_argument, NULL, 'a', "NAME", "another name of the container on "
								  "it" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "network connect", .args = "[OPTIONS] NETWORK CONTAINER", .optstring = "+",
		.opts = opts, .summary = "Connect a container to a network.",
	};
	cleanup_image_store struct image_store *s = NULL;
	cleanup_ctr struct ctr *ct = NULL;
	cleanup_strv char **aliases = NULL;
	struct hull_err err = { 0 };
	const char *ip = NULL;
	uint32_t a;
	int c;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c == 'i' && net_ip4_parse(optarg, &a) == 0)
			ip = optarg;
		else if (c == 'i')
			return cli_usage_error("network connect", "--ip %s: not an IPv4 address",
					       optarg);
		else if (c == 'a' && net_name_is_valid(optarg))
			strv_push(&aliases, optarg);
		else if (c == 'a')
			return cli_usage_error("network connect", "--alias %s: not a valid name",
					       optarg);
		else
			return EXIT_ENGINE;
	}
	if (argc - optind != 2)
		return cli_usage_error("network connect", "usage: hull network connect [--ip ADDR] "
				       "[--alias NAME] NETWORK CONTAINER");
	if (cli_store_open("network connect", &s) != 0)
		return EXIT_ENGINE;
	if (ctr_load(s, argv[optind + 1], &ct, &err) < 0 ||
	    engine_net_connect(s, ct, argv[optind], ip, aliases, &err) < 0)
		return cli_fail("network connect", &err);
	return 0;
}

/* hull network disconnect [-f] NETWORK CONTAINER */
static int net_disconnect(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "force", no_argument, NULL, 'f', NULL, "accepted (docker's)" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "network disconnect", .args = "[-f] NETWORK CONTAINER", .optstring = "+f",
		.opts = opts, .summary = "Disconnect a container from a network.",
	};
	cleanup_image_store struct image_store *s = NULL;
	cleanup_ctr struct ctr *ct = NULL;
	struct hull_err err = { 0 };
	bool force = false;
	int c;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c != 'f')
			return EXIT_ENGINE;
		force = cli_opt_on;
	}
	if (argc - optind != 2)
		return cli_usage_error("network disconnect", "usage: hull network disconnect [-f] "
				       "NETWORK CONTAINER");
	if (cli_store_open("network disconnect", &s) != 0)
		return EXIT_ENGINE;
	if (ctr_load(s, argv[optind + 1], &ct, &err) < 0 ||
	    engine_net_disconnect(s, ct, argv[optind], force, &err) < 0)
		return cli_fail("network disconnect", &err);
	return 0;
}

static void network_more(FILE *f)
{
	fprintf(f, "\nCommands:\n  create   create a bridge network\n  ls       list networks\n"
		   "  inspect  show networks as JSON\n  rm       remove networks\n"
		   "  prune    remove unused networks\n"
		   "  connect  connect a container to a network\n"
		   "  disconnect  disconnect a container from a network\n");
}

static const struct cli_command network_def = {
	.name = "network", .args = "COMMAND", .optstring = "+",
	.opts = no_opts, .more = network_more,
	.summary = "Manage networks.",
};

int cmd_network(int argc, char **argv)
{
	static const struct objcmd_sub subs[] = {
		{ "create", net_create }, { "ls", net_ls },   { "list", net_ls },
		{ "inspect", net_inspect }, { "rm", net_rm }, { "remove", net_rm },
		{ "prune", net_prune }, { "connect", net_connect },
		{ "disconnect", net_disconnect },
	};

	return objcmd_dispatch(&network_def, NETWORK_USAGE, subs, ARRAY_SIZE(subs), argc, argv);
}

int cmd_port(int argc, char **argv)
{
	static const struct cli_command def = {
		.name = "port", .args = "CONTAINER [PRIVATE_PORT[/PROTO]]", .optstring = "+",
		.opts = no_opts,
		.summary = "List a container's published ports.",
	};
	cleanup_image_store struct image_store *s = NULL;
	cleanup_ctr struct ctr *c = NULL;
	cleanup_strv char **lines = NULL;
	struct hull_err err = { 0 };
	cleanup_free char *want = NULL;
	bool any = false;

	if (cli_getopt(argc, argv, &def) != -1)
		return EXIT_ENGINE;
	if (optind >= argc || optind + 2 < argc)
		return cli_usage_error("port", "usage: hull port CONTAINER [PRIVATE_PORT[/PROTO]]");
	if (cli_store_open("port", &s) != 0)
		return EXIT_ENGINE;
	if (ctr_load(s, argv[optind], &c, &err) < 0)
		return cli_fail("port", &err);
	if (optind + 1 < argc)
		want = xasprintf(strchr(argv[optind + 1], '/') ? "%s -> " : "%s/tcp -> ",
				 argv[optind + 1]);
	lines = engine_net_port_lines(c);
	for (size_t i = 0; lines && lines[i]; i++) {
		if (want && strncmp(lines[i], want, strlen(want)) != 0)
			continue;
		printf("%s\n", want ? lines[i] + strlen(want) : lines[i]);
		any = true;
	}
	if (want && !any)
		return cli_usage_error("port", "no public port '%s' published for %s",
				       argv[optind + 1], c->name);
	return 0;
}
