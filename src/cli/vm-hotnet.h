#pragma once
/*
 * `hull vm update --add-net network=NAME[,id=ID][,mac=MAC][,ip=ADDR][,vhost=V]` and the
 * teardown after `--del-net ID` (the hull binary only: hull-vmm has no engine).
 * src/cli/vm-hotnet.c, docs/vmm.md "NIC hot-plug".
 */
#include <stdbool.h>

/* Whether an --add-net value asks for a hull network (a network= key). */
bool vm_hotnet_is(const char *arg);
/*
 * Make the attachment (engine/vmnet.h "hot"), plug it through sock's net-add, print the
 * answer with the guest's address; a refused plug tears it down. 0, or 125 after one line.
 */
int vm_hotnet_add(const char *sock, const char *arg);
/*
 * net-del ID through sock (line: the request), then tear down the attachment of the NIC
 * if it has one. 0, or 125 after one line.
 */
int vm_hotnet_del(const char *sock, const char *id, const char *line);
