#pragma once
/*
 * User namespace id mappings (config-linux.md "User namespace mappings", user_namespaces(7)):
 * checked, defaulted as crun does when config.json gives none, and written into a child's
 * uid_map/gid_map, through the setuid helpers newuidmap/newgidmap (Debian's uidmap) when
 * the caller lacks the privilege to write a mapping itself.
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"
#include "spec/spec.h"

#define IDMAP_NEWUIDMAP "/usr/bin/newuidmap"
#define IDMAP_NEWGIDMAP "/usr/bin/newgidmap"

/*
 * The kernel's rules, checked up front so that the error names the field: at most
 * OCI_MAX_IDMAPS ranges, none empty or past 2^32, and no two overlapping on either side
 * ("config.json: linux.uidMappings[2]: overlaps linux.uidMappings[0] ...").
 */
int idmap_check(const struct oci_idmap *m, size_t n, const char *field, struct hull_err *err);

/*
 * The mapping crun (1.8) uses for a user namespace without mappings: the caller's id as
 * container_id, the rest of container ids from the caller's first range in subid_file
 * (/etc/subuid or /etc/subgid, by user name) around it; with no range there, just
 * "0 host_id 1". user may be NULL (no name: no range). *ret is a heap array; returns the
 * count (1 to 3).
 */
size_t idmap_default(uint32_t container_id, uint32_t host_id, const char *user,
		     const char *subid_file, struct oci_idmap **ret);

/* "c h s\n" lines, as uid_map takes them; heap string. */
char *idmap_format(const struct oci_idmap *m, size_t n);

/*
 * Run helper (newuidmap or newgidmap) for pid with the mappings; its first line of stderr
 * goes into the error. field names the list in messages.
 */
int idmap_write_helper(const char *helper, pid_t pid, const struct oci_idmap *m, size_t n,
		       const char *field, struct hull_err *err);

/*
 * Write /proc/<pid>/<file> (uid_map or gid_map). When the kernel refuses (EPERM: the
 * caller may only map its own id without CAP_SETUID/CAP_SETGID), use helper instead.
 */
int idmap_write(pid_t pid, const char *file, const char *helper, const struct oci_idmap *m,
		size_t n, const char *field, struct hull_err *err);
