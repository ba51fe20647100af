#pragma once
/*
 * `hull network connect`/`disconnect` (engine/netconnect.c): networks a container joins after
 * create, kept in its network.json as "Extra" beside its first network (engine/network.h).
 */
#include <stdbool.h>
#include <jansson.h>

#include "common/error.h"
#include "engine/container.h"
#include "image/store.h"

/*
 * Connect c to network (ip: a static IPv4 address or NULL; aliases: more DNS names or NULL).
 * A running container gets the network now, in its namespace; a stopped one at its next
 * start. Errors (docker's words): no such network, already connected, a container on none,
 * host or container:ID. On failure nothing changed.
 */
int engine_net_connect(struct image_store *s, struct ctr *c, const char *network,
		       const char *ip, char *const *aliases, struct hull_err *err);
/* Disconnect c from a network `connect` gave it (torn down now when it runs). */
int engine_net_disconnect(struct image_store *s, struct ctr *c, const char *network,
			  bool force, struct hull_err *err);

/* For engine/network.c, under the network lock, with v the container's network.json: */
int engine_net_extras_setup_locked(struct image_store *s, const char *id, const char *dir,
				   json_t *v, struct hull_err *err);
void engine_net_extras_teardown_locked(struct image_store *s, const char *id, json_t *v);
/* Finish what a killed connect or disconnect left half-done ("Pending", netconnect.c). */
void engine_net_pending_repair_locked(struct image_store *s, const char *id, const char *dir,
				      json_t *v);
/* Add the extra networks' addresses to dir/hosts (after network.c wrote it at start). */
void engine_net_extras_hosts(const char *dir, json_t *v);
/* inspect's NetworkSettings.Networks entries of the extra networks, added to nets */
void engine_net_extras_settings(json_t *v, json_t *nets);
/* Whether v's extra networks include network (`network rm` refuses a network in use). */
bool engine_net_extras_use(json_t *v, const char *network);
