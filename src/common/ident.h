#pragma once
/*
 * Names and ids of hull's objects: containers, volumes and networks share docker's name rule,
 * and their ids and anonymous names are random hex.
 */
#include <stdbool.h>
#include <stddef.h>

/* docker's object names: [a-zA-Z0-9][a-zA-Z0-9_.-]*, 1 to max bytes. */
bool ident_name_is_valid(const char *name, size_t max);
/* nbytes random bytes (getrandom; aborts when it fails) as 2 * nbytes lowercase hex digits
 * and a NUL in out, which holds 2 * nbytes + 1 bytes. */
void ident_random_hex(char *out, size_t nbytes);
