#pragma once
/* `hull vm status|pause|resume|shutdown|power-off|metrics --api-sock PATH` (cmd-vm-api.c). */
#include <stdbool.h>
#include <stdio.h>

/* Is name one of these verbs? */
bool vm_api_is_verb(const char *name);
/* Run the verb argv[0] with its options; the exit status (0, or 125 on any failure). */
int vm_api_main(int argc, char **argv);
/* Their lines for `hull vm --help`. */
void vm_api_commands(FILE *f);
