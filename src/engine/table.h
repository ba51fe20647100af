#pragma once
/* Column output as docker prints it (Go's tabwriter): each column as wide as its widest cell
 * (counted in characters, not bytes), three spaces between columns. */
#include <stdio.h>

struct table;

struct table *table_new(size_t ncols);
/* Add a row of ncols cells (copied; NULL prints as ""). */
void table_add(struct table *t, const char *const *cells);
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);
