/*
 * `hull vm status|pause|resume|shutdown|power-off|metrics --api-sock PATH`: the control API
 * (docs/vmm.md) for users who do not want curl. Each verb is one HTTP request
 * (src/vmm/api-client.c); this file parses the options and prints.
 */
#include "cli/cmd-vm-api.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/opt.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "vmm/api-client.h"

#ifdef HULL_VMM_MAIN
#define VM_API_CMD(name) name
#else
#define VM_API_CMD(name) "vm " name
#endif

struct vm_api_verb {
	struct cli_command cmd;
	const char *method, *path, *body;
	bool print; /* print the reply's JSON */
};

static const struct cli_option vm_api_opts[] = {
	{ "api-sock", required_argument, NULL, 'a', "PATH", "the VM's --api-sock" },
	{ 0 },
};

#define VERB(n, sum, m, p, b, pr)                                                          \
	{ .cmd = { .name = VM_API_CMD(n), .args = "--api-sock PATH", .summary = sum,         \
		   .optstring = "", .opts = vm_api_opts },                                     \
	  .method = m, .path = p, .body = b, .print = pr }

static const struct vm_api_verb verbs[] = {
	VERB("status", "Print a running VM's state (GET /).", "GET", "/", NULL, true),
	VERB("pause", "Pause a running VM's vCPUs (PATCH /vm).", "PATCH", "/vm",
	     "{\"state\":\"Paused\"}", false),
	VERB("resume", "Resume a paused VM (PATCH /vm).", "PATCH", "/vm",
	     "{\"state\":\"Resumed\"}", false),
	VERB("shutdown", "Ask the guest to shut down: Ctrl-Alt-Del (PUT /actions).", "PUT",
	     "/actions", "{\"action_type\":\"shutdown\"}", false),
	VERB("power-off", "Stop a VM at once (PUT /actions).", "PUT", "/actions",
	     "{\"action_type\":\"power-off\"}", false),
	VERB("metrics", "Print a running VM's counters (GET /metrics).", "GET", "/metrics", NULL,
	     true),
};
#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

static const struct vm_api_verb *verb_find(const char *name)
{
	for (size_t i = 0; i < N_VERBS; i++) {
		const char *n = strrchr(verbs[i].cmd.name, ' ');

		if (strcmp(n ? n + 1 : verbs[i].cmd.name, name) == 0)
			return &verbs[i];
	}
	return NULL;
}

bool vm_api_is_verb(const char *name)
{
	return verb_find(name) != NULL;
}

void vm_api_commands(FILE *f)
{
	for (size_t i = 0; i < N_VERBS; i++) {
		const char *n = strrchr(verbs[i].cmd.name, ' ');

		fprintf(f, "  %-10s %s\n", n ? n + 1 : verbs[i].cmd.name, verbs[i].cmd.summary);
	}
}

/* The reply: pretty JSON on stdout, or the server's fault_message on stderr. */
static int vm_api_print(const struct vm_api_verb *v, const char *sock, int status,
			const char *body)
{
	cleanup_json json_t *j = *body ? json_loads(body, 0, NULL) : NULL;
	const char *fault = j ? json_string_value(json_object_get(j, "fault_message")) : NULL;

	if (status >= 300) {
		fprintf(stderr, "%s %s: --api-sock %s: %d: %s\n", cli_prog, v->cmd.name, sock,
			status, fault ? fault : body);
		return 125;
	}
	if (v->print && j) {
		cleanup_free char *out = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		printf("%s\n", out);
	}
	return 0;
}

int vm_api_main(int argc, char **argv)
{
	const struct vm_api_verb *v = verb_find(argv[0]);
	struct hull_err err = { 0 };
	cleanup_free char *body = NULL;
	const char *sock = NULL;
	int c, status = 0;

	optind = 0;
	while ((c = cli_getopt(argc, argv, &v->cmd)) != -1) {
		if (c != 'a')
			return 125;
		sock = optarg;
	}
	if (optind < argc) {
		fprintf(stderr, "%s %s: unexpected argument '%s'\n", cli_prog, v->cmd.name,
			argv[optind]);
		return 125;
	}
	if (!sock) {
		fprintf(stderr, "%s %s: --api-sock PATH is required\n", cli_prog, v->cmd.name);
		return 125;
	}
	if (api_client_request(sock, v->method, v->path, v->body, &status, &body, &err) < 0) {
		fprintf(stderr, "%s %s: %s\n", cli_prog, v->cmd.name, err.msg);
		return 125;
	}
	return vm_api_print(v, sock, status, body);
}
