#pragma once
/* What cmd-img.c shares with cmd-img-more.c (compare, measure, dd, amend, snapshot, bench). */
#include "cli/commands.h"
#include "disk/disk.h"

/* The -U row, shared by every command that opens images read-only (as qemu-img's). */
#define IMG_O_SHARE { NULL, no_argument, NULL, 'U', NULL, \
		      "force-share: read even while another process writes the image" }

/* "hull img CMD: msg (see ...)" on stderr; returns 1, qemu-img's usage status. */
int usage_err(const char *cmd, const char *msg);
/* A -f/-O/-F value (raw or qcow2) into *ret; prints and returns -1 for another. */
int parse_fmt(const char *cmd, const char *s, enum disk_format *ret);

/* The command's row of img_defs ("create", "compare"...); aborts on an unknown name. */
const struct cli_command *img_def(const char *cmd);

extern const struct cli_option img_compare_opts[], img_measure_opts[], img_dd_opts[],
	img_amend_opts[], img_snapshot_opts[], img_bench_opts[];

int img_compare_cmd(int argc, char **argv);
int img_measure_cmd(int argc, char **argv);
int img_dd_cmd(int argc, char **argv);
int img_amend_cmd(int argc, char **argv);
int img_snapshot_cmd(int argc, char **argv);
int img_bench_cmd(int argc, char **argv);
