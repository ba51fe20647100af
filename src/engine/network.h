#pragma once
/*
 * A container's network on the engine side (docs/engine.md "Networks"): what create records,
 * what start sets up and every exit path tears down. The state is the container's own file
 * network.json (not the record, hull.json), replaced atomically:
 *
 *   Network, Netns, Aliases, IP (--ip), Ports (netavark's port_mappings, host ports chosen
 *   at start), Dns, DnsSearch, ExtraHosts  -- the request, written by create
 *   Active        true from before the first resource is made until the teardown is done:
 *                 the namespace's lifetime, whatever networks it holds
 *   IPAddress, IPPrefixLen, Gateway, MacAddress  -- what setup gave
 *
 * Network, Aliases, IP and what setup gave are the container's first network (eth0, with the
 * published ports): `network disconnect` removes them and `network connect` fills them again
 * when they are empty, so the namespace may hold it, only connect's "Extra" networks
 * (engine/netconnect.h), or only loopback.
 *
 * Only containers on a bridge network have it; none, host and container:ID need nothing.
 */
#include <stdbool.h>
#include <jansson.h>

#include "common/error.h"
#include "engine/container.h"
#include "engine/run.h"
#include "image/store.h"

/* The network namespace path for config.json (a new one under <store>/netns for a bridge
 * network, the other container's for container:ID), or NULL for none (a fresh namespace)
 * and host. */
int engine_net_ns_path(struct image_store *s, const struct run_opts *o, const char *id,
		       char **ret, struct hull_err *err);
/*
 * Validate the network options against the store (network exists, --ip fits, host ports
 * free) and write network.json, hosts and resolv.conf into dir. icfg: the image's config
 * (ExposedPorts for -P). Errors name the flag.
 */
int engine_net_create(struct image_store *s, const struct run_opts *o, json_t *icfg,
		      const char *id, const char *name, const char *dir, struct hull_err *err);
/* Before the runtime creates the container: namespace, address, netavark setup. */
int engine_net_setup(struct image_store *s, struct ctr *c, struct hull_err *err);
/* Undo engine_net_setup, whatever part of it happened; harmless when nothing did. */
void engine_net_teardown(struct image_store *s, struct ctr *c);
/* The same for the owner of network.json in dir (a container's or a VM's, engine/vmnet.h),
 * id its allocations' owner; _locked: the caller holds net_lock. */
int engine_net_setup_dir(struct image_store *s, const char *id, const char *dir,
			 struct hull_err *err);
void engine_net_teardown_dir(struct image_store *s, const char *id, const char *dir);
void engine_net_teardown_dir_locked(struct image_store *s, const char *id, const char *dir);
/* For inspect: docker's NetworkSettings. */
json_t *engine_net_settings(struct ctr *c);
/* For ps and port: "127.0.0.1:8080->80/tcp, ..." (a heap string, "" for none). */
char *engine_net_ports_text(struct ctr *c);
/* `hull port`: one "80/tcp -> 127.0.0.1:8080" line per port (a NULL-terminated vector). */
char **engine_net_port_lines(struct ctr *c);
/*
 * For system prune: tear down what killed hulls left (containers not running with an active
 * network, namespace files of containers that are gone). *ret_n: how many.
 */
int engine_net_prune_leftovers(struct image_store *s, unsigned *ret_n, struct hull_err *err);
/* The names of the containers (and of the live VMs, engine/vmnet.h) whose network.json names
 * network (heap vector). Caller holds net_lock. */
char **engine_net_users(struct image_store *s, const char *network);

/* The first network's name in v, or NULL once `network disconnect` removed it. */
const char *engine_net_primary(json_t *v);
/* Whether v's first network is set up (its ports published). */
bool engine_net_ports_on(json_t *v);
/* What --add-host NAME:host-gateway gives: the first set-up network's gateway ("": none). */
const char *engine_net_host_gateway(json_t *v);
/* For engine/netconnect.c, under net_lock, with the namespace set up: the first network in
 * it (ports, address, netavark), and its teardown (the namespace stays). */
int engine_net_primary_setup_locked(struct image_store *s, const char *id, const char *dir,
				    json_t *v, struct hull_err *err);
void engine_net_primary_teardown_locked(struct image_store *s, const char *id, json_t *v);
/* resolv.conf in dir again for the networks set up now (unless --dns), rewritten in place. */
void engine_net_resolv_refresh(struct image_store *s, const char *dir, json_t *v);

/* For engine/netconnect.c: the container's network.json in dir (NULL when it has none or it
 * cannot be read), and its atomic rewrite. */
json_t *engine_net_file_load(const char *dir);
int engine_net_file_save(const char *dir, json_t *v, struct hull_err *err);
