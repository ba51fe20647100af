/*
 * A migration's destination announces its NICs (docs/vmm.md "Live migration", network):
 * hull's virtio-net does not offer VIRTIO_NET_F_GUEST_ANNOUNCE (the guest would send its own
 * gratuitous ARPs), so the VMM does what QEMU's qemu_announce_self does for guests without
 * it: a broadcast RARP from each NIC's MAC on its tap. A bridge (or the switches behind it)
 * learns that the MAC is now behind this port, and frames for the guest stop going to the
 * source's port, which may stay up (another host's link, a persistent tap); the guest's
 * addresses do not change, so neighbours' ARP caches stay right.
 */
#include "vmm/migrate.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/pci.h"
#include "vmm/vm.h"

#define VNET_HDR_LEN 12 /* virtio_net_hdr_v1, what the taps are set to (tap.c) */
#define ETH_MIN_FRAME 60

void migrate_rarp_frame(uint8_t frame[MIGRATE_RARP_LEN], const uint8_t mac[6])
{
	static const uint8_t arp[8] = {
		0x00, 0x01, /* hardware: Ethernet */
		0x08, 0x00, /* protocol: IPv4 */
		6, 4,       /* their lengths */
		0x00, 0x03, /* reverse request (RFC 903) */
	};
	uint8_t *e = frame + VNET_HDR_LEN, *a = e + 14;

	memset(frame, 0, MIGRATE_RARP_LEN); /* the vnet header: no offloads; the padding */
	memset(e, 0xff, 6);
	memcpy(e + 6, mac, 6);
	e[12] = 0x80;
	e[13] = 0x35; /* ETH_P_RARP */
	memcpy(a, arp, sizeof(arp));
	memcpy(a + 8, mac, 6);  /* sender MAC, sender IP 0.0.0.0 */
	memcpy(a + 18, mac, 6); /* target MAC, target IP 0.0.0.0 */
}

void migrate_net_announce(struct vm *vm)
{
	for (unsigned i = 0; i < VM_MAX_NICS; i++) {
		uint8_t frame[MIGRATE_RARP_LEN];
		int fd;

		if (!vm->nics[i])
			continue;
		fd = virtio_net_tap_fd(vm->nics[i]);
		/* the config space's MAC: the loaded one, or the destination's --net mac= */
		migrate_rarp_frame(frame, vm->nics[i]->st.config);
		if (fd >= 0 && write(fd, frame, sizeof(frame)) != (ssize_t)sizeof(frame))
			log_debug("network interface %u: announcing its MAC: %s", i, strerror(errno));
	}
}
