/* virtio-net's header checks (net-hdr.h). */
#include "vmm/virtio/net-hdr.h"

#include <endian.h>

bool net_hdr_rx_ok(uint64_t f, struct net_hdr *h, size_t frame_len)
{
	uint8_t gso = h->gso_type & (uint8_t)~NET_HDR_GSO_ECN;

	if (!(f & NET_F_GUEST_CSUM))
		h->flags &= (uint8_t)~NET_HDR_F_DATA_VALID;
	if (h->flags & ~(NET_HDR_F_NEEDS_CSUM | NET_HDR_F_DATA_VALID))
		return false;
	if ((h->flags & NET_HDR_F_NEEDS_CSUM) &&
	    (!(f & NET_F_GUEST_CSUM) ||
	     (size_t)le16toh(h->csum_start) + le16toh(h->csum_offset) + 2 > frame_len))
		return false;
	if ((h->gso_type & NET_HDR_GSO_ECN) && !(f & NET_F_GUEST_ECN))
		return false;
	switch (gso) {
	case NET_HDR_GSO_NONE: return !(h->gso_type & NET_HDR_GSO_ECN);
	case NET_HDR_GSO_TCPV4: return f & NET_F_GUEST_TSO4;
	case NET_HDR_GSO_TCPV6: return f & NET_F_GUEST_TSO6;
	case NET_HDR_GSO_UDP: return f & NET_F_GUEST_UFO;
	default: return false;
	}
}

bool net_hdr_tx_ok(uint64_t f, const struct net_hdr *h, size_t frame_len)
{
	uint8_t gso = h->gso_type & (uint8_t)~NET_HDR_GSO_ECN;
	bool csum = h->flags & NET_HDR_F_NEEDS_CSUM;

	if (h->flags & ~NET_HDR_F_NEEDS_CSUM)
		return false;
	if (csum && (!(f & NET_F_CSUM) ||
		     (size_t)le16toh(h->csum_start) + le16toh(h->csum_offset) + 2 > frame_len))
		return false;
	if ((h->gso_type & NET_HDR_GSO_ECN) && !(f & NET_F_HOST_ECN))
		return false;
	switch (gso) {
	case NET_HDR_GSO_NONE: return !(h->gso_type & NET_HDR_GSO_ECN);
	case NET_HDR_GSO_TCPV4: if (!(f & NET_F_HOST_TSO4)) return false; break;
	case NET_HDR_GSO_TCPV6: if (!(f & NET_F_HOST_TSO6)) return false; break;
	case NET_HDR_GSO_UDP: if (!(f & NET_F_HOST_UFO)) return false; break;
	default: return false;
	}
	/* A GSO frame: its checksum is the tap's to finish, its sizes must make sense. */
	return csum && h->gso_size && le16toh(h->hdr_len) <= frame_len;
}
