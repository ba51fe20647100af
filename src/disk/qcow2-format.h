#pragma once
/*
 * QCOW2 on-disk layout (QEMU docs/interop/qcow2.txt). Every number is big-endian; read the
 * packed structs through be*toh.
 */
#include <endian.h>
#include <stdint.h>

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */

#define QCOW2_V2_HEADER_LEN 72u
#define QCOW2_V3_HEADER_MIN 104u
#define QCOW2_V3_HEADER_LEN 112u /* with compression_type and padding */

struct qcow2_header {
	uint32_t magic;
	uint32_t version;
	uint64_t backing_file_offset;
	uint32_t backing_file_size;
	uint32_t cluster_bits;
	uint64_t size;
	uint32_t crypt_method;
	uint32_t l1_size;
	uint64_t l1_table_offset;
	uint64_t refcount_table_offset;
	uint32_t refcount_table_clusters;
	uint32_t nb_snapshots;
	uint64_t snapshots_offset;
	/* version 3 */
	uint64_t incompatible_features;
	uint64_t compatible_features;
	uint64_t autoclear_features;
	uint32_t refcount_order;
	uint32_t header_length;
	uint8_t compression_type;
	uint8_t padding[7];
} __attribute__((packed));
_Static_assert(sizeof(struct qcow2_header) == QCOW2_V3_HEADER_LEN, "qcow2 header layout");

/* incompatible_features */
#define QCOW2_INCOMPAT_DIRTY (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2 (1ull << 4)
/* The incompatible bits hull implements (the others are refused at open). */
#define QCOW2_INCOMPAT_KNOWN \
	(QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT | QCOW2_INCOMPAT_COMPRESSION)
/* compatible_features */
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ull << 0)
/* autoclear_features: hull knows none of them, so it clears them all on a write open. */
#define QCOW2_AUTOCLEAR_BITMAPS (1ull << 0)
#define QCOW2_AUTOCLEAR_DATA_FILE_RAW (1ull << 1)

#define QCOW2_COMPRESSION_ZLIB 0
#define QCOW2_COMPRESSION_ZSTD 1

/* Header extensions: u32 type, u32 length, data padded to 8 bytes. */
struct qcow2_ext_header {
	uint32_t type;
	uint32_t len;
} __attribute__((packed));
_Static_assert(sizeof(struct qcow2_ext_header) == 8, "qcow2 extension header layout");

#define QCOW2_EXT_END 0x00000000u
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE 0x6803f857u
#define QCOW2_EXT_BITMAPS 0x23852875u
#define QCOW2_EXT_CRYPTO 0x0537be77u
#define QCOW2_EXT_DATA_FILE 0x44415441u

struct qcow2_feature_name {
	uint8_t type; /* 0 incompatible, 1 compatible, 2 autoclear */
	uint8_t bit;
	char name[46];
} __attribute__((packed));
_Static_assert(sizeof(struct qcow2_feature_name) == 48, "qcow2 feature name layout");

#define QCOW2_BACKING_NAME_MAX 1023u

/* L1 entries */
#define QCOW2_L1_OFFSET_MASK 0x00fffffffffffe00ull /* bits 9-55 */
#define QCOW2_L1_RESERVED_MASK 0x7f000000000001ffull
/* L2 entries */
#define QCOW2_OFLAG_COPIED (1ull << 63)
#define QCOW2_OFLAG_COMPRESSED (1ull << 62)
#define QCOW2_OFLAG_ZERO (1ull << 0)
#define QCOW2_L2_OFFSET_MASK 0x00fffffffffffe00ull
#define QCOW2_L2_RESERVED_MASK 0x3f000000000001feull
/* refcount table entries */
#define QCOW2_REFT_OFFSET_MASK 0xfffffffffffffe00ull
#define QCOW2_REFT_RESERVED_MASK 0x00000000000001ffull

/* Snapshot table entry (fixed part; extra data, id and name follow). */
struct qcow2_snapshot_header {
	uint64_t l1_table_offset;
	uint32_t l1_size;
	uint16_t id_str_size;
	uint16_t name_size;
	uint32_t date_sec;
	uint32_t date_nsec;
	uint64_t vm_clock_nsec;
	uint32_t vm_state_size;
	uint32_t extra_data_size;
} __attribute__((packed));
_Static_assert(sizeof(struct qcow2_snapshot_header) == 40, "qcow2 snapshot layout");

#define QCOW2_MIN_CLUSTER_BITS 9u
#define QCOW2_MAX_CLUSTER_BITS 21u /* the same implementation limit as qemu: 2 MiB */
/* Limits on what the header may ask of us (qemu's implementation limits). */
#define QCOW2_MAX_L1_BYTES (32u << 20)
#define QCOW2_MAX_REFTABLE_BYTES (8u << 20)
#define QCOW2_MAX_SNAPSHOTS 65536u
#define QCOW2_MAX_SNAPSHOT_TABLE_BYTES (64u << 20)
