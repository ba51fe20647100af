#pragma once
/*
 * The lifecycle options of a container (docs/engine.md "Lifecycle"): --restart policies and
 * the monitor's backoff, --label/--label-file and the image's labels, `ps --filter label=`,
 * --init, and the mark `hull stop`/`kill` leaves so that a restart policy does not undo them.
 * Pure functions but the marks (files in the container directory).
 */
#include <stdbool.h>
#include <jansson.h>

#include "engine/record.h"

/* docker's names: "no", "on-failure", "always", "unless-stopped" */
const char *ctr_restart_name(enum ctr_restart_policy p);
/*
 * no | on-failure[:N] | always | unless-stopped (docker's; N >= 0, only with on-failure).
 * 0, or -EINVAL.
 */
int ctr_restart_parse(const char *s, struct ctr_restart *ret);
/*
 * Whether the monitor starts the container again after it exited with code, having been
 * restarted count times so far; stopped: `hull stop`/`kill` marked it (ctr_mark_stopped).
 */
bool ctr_restart_wanted(const struct ctr_restart *p, int code, unsigned count, bool stopped);
/*
 * docker's backoff: the delay before the next start, in ms, from the previous delay (0 at
 * first) and how long the last run lasted: 100 ms doubling, at most a minute, back to
 * 100 ms after a run of 10 s or more.
 */
unsigned ctr_restart_delay_ms(unsigned prev_ms, long long ran_ms);

/* KEY[=VALUE] of --label: KEY not empty, no control characters. */
bool ctr_label_is_valid(const char *kv);
/*
 * The container's labels as "KEY=VALUE": the image's (a JSON object, NULL for none), then
 * the flags' (KEY alone is KEY=""), a later one replacing an earlier one of the same key
 * (docker's rule: the container's override the image's). A new vector, sorted by key.
 */
char **ctr_labels_merge(json_t *image_labels, char *const *flags);
/* `ps --filter label=KEY` or `label=KEY=VALUE` against labels ("KEY=VALUE" vector). */
bool ctr_labels_match(char *const *labels, const char *filter);

/* Where --init's program is on the host and in the container (podman's /run/podman-init). */
#define CTR_INIT_HOST_PATH "/usr/bin/catatonit"
#define CTR_INIT_PATH "/run/hull-init"

/*
 * The mark of a user's stop: `hull stop` and `hull kill` (the stop signal or KILL) set it
 * before they signal, so the monitor does not restart what the user stopped (docker's
 * HasBeenManuallyStopped); `hull start` clears it. A file, not state.json: the monitor
 * owns state.json while the container runs. -errno.
 */
int ctr_mark_stopped(const char *dir);
int ctr_clear_stopped(const char *dir);
bool ctr_is_stopped(const char *dir);
