/*
 * A NIC hot-plugged on a hull network (cli/vm-hotnet.h): the engine makes the attachment
 * in the VMM's namespace (the VMM is the API socket's peer: SO_PEERCRED), the VMM's
 * net-add plugs its tap; --del-net asks the VMM first and tears down after.
 */
#include "cli/vm-hotnet.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/vm-opts.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "engine/vmnet.h"
#include "image/store.h"

#define HOTNET_REPLY_MAX 4096
#define HOTNET_ID_MAX 64 /* the VMM's VM_HOTPLUG_ID_MAX */

/* --add-net network=... split into its keys (pointers into buf). */
struct hotnet_args {
	char buf[256];
	const char *network, *id, *mac, *ip, *vhost;
};

bool vm_hotnet_is(const char *arg)
{
	return strncmp(arg, "network=", 8) == 0 || strstr(arg, ",network=") != NULL;
}

/* Print "hull vm update: --add-net ..." and return 125. */
__attribute__((format(printf, 1, 2))) static int bad(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hull vm update: --add-net ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_ENGINE;
}

/* Split and check what only the CLI sees (the keys and the id); 0 or 125 after one line. */
static int args_parse(const char *arg, struct hotnet_args *a)
{
	char *save = NULL, *tok;
	const char *allowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";

	if (strlen(arg) >= sizeof(a->buf))
		return bad("%s: too long", arg);
	(void)snprintf(a->buf, sizeof(a->buf), "%s", arg);
	for (tok = strtok_r(a->buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const char **slot = strncmp(tok, "network=", 8) == 0 ? &a->network :
				    strncmp(tok, "id=", 3) == 0	     ? &a->id :
				    strncmp(tok, "mac=", 4) == 0     ? &a->mac :
				    strncmp(tok, "ip=", 3) == 0	     ? &a->ip :
				    strncmp(tok, "vhost=", 6) == 0   ? &a->vhost : NULL;

		if (!slot)
			return bad("%s: unknown key '%s' (network=NAME[,id=ID][,mac=MAC][,ip=ADDR]"
				   "[,vhost=on|off|auto])", arg, tok);
		if (*slot)
			return bad("%s: '%s' given twice", arg, tok);
		*slot = strchr(tok, '=') + 1;
	}
	if (!a->network || !*a->network)
		return bad("%s: network=: no network name", arg);
	if (a->ip && !*a->ip)
		return bad("ip=: empty");
	if (!a->id) {
		a->id = a->network; /* a network name is an id (the engine checks it) */
		return 0;
	}
	if (!*a->id || strlen(a->id) > HOTNET_ID_MAX || strspn(a->id, allowed) != strlen(a->id))
		return bad("id=%s: expected 1-64 of [A-Za-z0-9_.-] (the NIC's id; default: the "
			   "network's name)", a->id);
	return 0;
}

/*
 * One request line to sock, whose peer must be pid (0: any; *ret_pid set), one answer:
 * the answer (ok or not), or NULL after printing.
 */
static json_t *call(const char *sock, const char *line, pid_t *pid)
{
	char reply[HOTNET_REPLY_MAX + 1];
	cleanup_close int fd = -1;
	pid_t peer = 0;
	size_t len = 0;
	ssize_t n;
	json_t *j;

	fd = vm_update_connect(sock, &peer);
	if (fd < 0)
		return NULL;
	if (*pid && peer != *pid) {
		fprintf(stderr, "hull vm update: --api-sock %s: another VMM answers now (pid %d, "
			"was %d)\n", sock, (int)peer, (int)*pid);
		return NULL;
	}
	*pid = peer;
	if (fd_write_all(fd, line, strlen(line)) < 0) {
		fprintf(stderr, "hull vm update: --api-sock %s: %s\n", sock, strerror(errno));
		return NULL;
	}
	while (len < HOTNET_REPLY_MAX && !memchr(reply, '\n', len) &&
	       (n = read(fd, reply + len, HOTNET_REPLY_MAX - len)) > 0)
		len += (size_t)n;
	reply[len] = '\0';
	j = json_loads(reply, JSON_DISABLE_EOF_CHECK, NULL);
	if (!json_is_object(j)) {
		fprintf(stderr, "hull vm update: no valid answer from the VM\n");
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Whether j says ok; else its error printed. */
static bool answer_ok(json_t *j)
{
	json_t *msg = json_object_get(j, "error");

	if (json_is_true(json_object_get(j, "ok")))
		return true;
	fprintf(stderr, "hull vm update: %s\n",
		json_is_string(msg) ? json_string_value(msg) : "no valid answer from the VM");
	return false;
}

/* The net-add line for the attachment's tap. */
static char *add_line(const struct hotnet_args *a, const struct vmnet_hot *h)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s*}", "op", "net-add", "id", a->id, "tap",
			      h->tap, "mac", h->mac, "vhost", a->vhost);
	char *s = json_dumps(j, JSON_COMPACT);
	char *line = NULL;

	if (s && asprintf(&line, "%s\n", s) < 0)
		line = NULL;
	free(s);
	json_decref(j);
	return line;
}

int vm_hotnet_add(const char *sock, const char *arg)
{
	struct hotnet_args a = { 0 };
	struct vmnet_hot_request rq;
	struct image_store *s = NULL;
	struct vmnet_hot *h = NULL;
	struct hull_err err = { 0 };
	cleanup_close int probe = -1;
	cleanup_free char *line = NULL;
	json_t *rep = NULL;
	pid_t vmm = 0;
	int rc;

	rc = args_parse(arg, &a);
	if (rc)
		return rc;
	probe = vm_update_connect(sock, &vmm);
	if (probe < 0)
		return EXIT_ENGINE;
	(void)close(steal_fd(&probe)); /* the set-up may outlast the API's first-byte timeout */
	if (cli_store_open("vm update", &s) != 0)
		return EXIT_ENGINE;
	rq = (struct vmnet_hot_request){ .network = a.network, .mac = a.mac, .ip = a.ip,
					 .iface = a.id, .vmm = vmm };
	if (engine_vmnet_hot_up(s, &rq, &h, &err) < 0) {
		fprintf(stderr, "hull vm update: %s\n", err.msg);
		image_store_free(s);
		return EXIT_ENGINE;
	}
	line = add_line(&a, h);
	rep = line ? call(sock, line, &vmm) : NULL;
	if (!rep || !answer_ok(rep)) {
		engine_vmnet_hot_down(s, h); /* refused: nothing stays */
		json_decref(rep);
		image_store_free(s);
		return EXIT_ENGINE;
	}
	(void)json_object_set_new(rep, "network", json_string(a.network));
	(void)json_object_set_new(rep, "mac", json_string(h->mac));
	(void)json_object_set_new(rep, "ip", json_string(h->addr));
	(void)json_object_set_new(rep, "gateway", json_string(h->gateway));
	{
		char *out = json_dumps(rep, JSON_COMPACT);

		printf("%s\n", out ? out : "{}");
		free(out);
	}
	json_decref(rep);
	engine_vmnet_hot_free(h);
	image_store_free(s);
	return 0;
}

int vm_hotnet_del(const char *sock, const char *id, const char *line)
{
	struct image_store *s = NULL;
	json_t *rep;
	pid_t vmm = 0;
	bool ok;

	rep = call(sock, line, &vmm);
	if (!rep)
		return EXIT_ENGINE;
	ok = answer_ok(rep);
	if (ok) {
		char *out = json_dumps(rep, JSON_COMPACT);

		printf("%s\n", out ? out : "{}");
		free(out);
	}
	json_decref(rep);
	/*
	 * The VMM answered: the NIC is leaving (ok), already leaving from an earlier --del-net,
	 * or gone (the guest ejected it on its own): its attachment goes in each case. The
	 * guest ejects in its own time: the tap, no longer persistent, goes when the VMM frees
	 * the NIC; the address, veth and rules go now.
	 */
	{
		/* quiet: a tap= NIC has no record, and needs no store (the sandbox's default
		 * root is read-only) */
		struct hull_err e2;
		const char *root = cli_root ? cli_root : secure_getenv("HULL_ROOT");

		if (image_store_open(root, &s, &e2) < 0)
			return ok ? 0 : EXIT_ENGINE;
	}
	(void)engine_vmnet_hot_del(s, vmm, id);
	image_store_free(s);
	return ok ? 0 : EXIT_ENGINE;
}
