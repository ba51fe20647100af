#pragma once
/* One parser for Ethernet MAC addresses, for every flag, API body and file that carries one. */

#include <stdint.h>

#define MAC_STR_LEN 18 /* "aa:bb:cc:dd:ee:ff" and its NUL */

/* "aa:bb:cc:dd:ee:ff": six pairs of hex digits (either case) joined by ':', an address a NIC
 * can own (unicast, not all zeros). 0 and out, or -EINVAL (out may be partly written). */
int mac_parse(const char *s, uint8_t out[6]);

/* out gets the lower-case form, as the kernel and docker's inspect show it. */
void mac_format(const uint8_t mac[6], char out[MAC_STR_LEN]);
