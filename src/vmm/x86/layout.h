#pragma once
/* Guest-physical layout of what hull writes before the kernel runs (all below 1 MiB). */
#define LAYOUT_GDT 0x500ULL
#define LAYOUT_PVH_INFO 0x6000ULL   /* hvm_start_info, then its memory map */
#define LAYOUT_ZERO_PAGE 0x7000ULL  /* struct boot_params */
#define LAYOUT_PML4 0x9000ULL
#define LAYOUT_PDPT 0xA000ULL
#define LAYOUT_PD 0xB000ULL         /* 4 pages: identity map of the first 4 GiB, 2 MiB pages */
#define LAYOUT_RAW_LOAD 0x10000ULL  /* flat real-mode guests: CS=0x1000, IP=0 */
#define LAYOUT_RAW_MAX 0x10000ULL
#define LAYOUT_CMDLINE 0x20000ULL
#define LAYOUT_CMDLINE_MAX 0x10000ULL
#define LAYOUT_EBDA 0x9FC00ULL
#define LAYOUT_ACPI 0xE0000ULL      /* RSDP first (the legacy scan finds it here too) */
#define LAYOUT_ACPI_END 0x100000ULL
#define LAYOUT_KERNEL 0x100000ULL
#define LAYOUT_RESET_VECTOR 0xFFFF0ULL /* F000:FFF0, where a PC starts after reset */

/* Ports of the ACPI hardware-reduced power-management block (dev/pm.c, acpi.c). */
#define PM_PORT_BASE 0x600
#define PM_PORT_SLEEP_CTL 0x600
#define PM_PORT_SLEEP_STS 0x601
#define PM_PORT_RESET 0x602
#define PM_PORT_LEN 4
#define PM_RESET_VALUE 0x01
/* ACPI sleep control register bits (ACPI 6.x 4.8.3.7): SLP_TYPx in 4:2, SLP_EN bit 5. */
#define PM_SLP_EN 0x20
#define PM_SLP_TYP_SHIFT 2
#define PM_S5_TYP 5

/*
 * The VM generation ID (dev/vmgenid.c): its 16-byte GUID in the e820-reserved ACPI range,
 * after the tables (acpi.c declares the address), and the GSI of the ACPI GED that tells the
 * guest it changed (Notify 0x80 to the VGEN device).
 */
#define LAYOUT_VMGENID 0xFE000ULL
#define VMGENID_GED_GSI 5
