#pragma once
/*
 * `hull` subcommands. Each cmd_<name>() gets argv starting at its own name (argv[0] is the
 * subcommand), prints its own errors and returns the process exit status.
 */
int cmd_img(int argc, char **argv);
int cmd_vm(int argc, char **argv);
