#pragma once
/* virtio-net's feature bits and packet header (virtio 1.2, 5.1.3 and 5.1.6), and the checks
 * of a header against what the guest negotiated: the data plane's rules, apart from its
 * queues so that they can be read and tested alone. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/tap.h"

/* Feature bits (5.1.3) */
#define NET_F_CSUM (1ULL << 0)
#define NET_F_GUEST_CSUM (1ULL << 1)
#define NET_F_MAC (1ULL << 5)
#define NET_F_GUEST_TSO4 (1ULL << 7)
#define NET_F_GUEST_TSO6 (1ULL << 8)
#define NET_F_GUEST_ECN (1ULL << 9)
#define NET_F_GUEST_UFO (1ULL << 10)
#define NET_F_HOST_TSO4 (1ULL << 11)
#define NET_F_HOST_TSO6 (1ULL << 12)
#define NET_F_HOST_ECN (1ULL << 13)
#define NET_F_HOST_UFO (1ULL << 14)
#define NET_F_MRG_RXBUF (1ULL << 15)
#define NET_F_STATUS (1ULL << 16)
#define NET_F_CTRL_VQ (1ULL << 17)
#define NET_F_CTRL_RX (1ULL << 18)
#define NET_F_MQ (1ULL << 22)

/* struct virtio_net_hdr_v1 (5.1.6) */
struct net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));
_Static_assert(sizeof(struct net_hdr) == TAP_VNET_HDR_LEN, "virtio_net_hdr_v1");

#define NET_HDR_F_NEEDS_CSUM 1
#define NET_HDR_F_DATA_VALID 2
#define NET_HDR_GSO_NONE 0
#define NET_HDR_GSO_TCPV4 1
#define NET_HDR_GSO_UDP 3
#define NET_HDR_GSO_TCPV6 4
#define NET_HDR_GSO_ECN 0x80

/* Is a header from the backend one a guest with features f may receive? DATA_VALID is
 * cleared if not. */
bool net_hdr_rx_ok(uint64_t f, struct net_hdr *h, size_t frame_len);

/* Is a header from the guest one it negotiated (features f), with offsets inside the frame? */
bool net_hdr_tx_ok(uint64_t f, const struct net_hdr *h, size_t frame_len);
