/*
 * vmrec.h — the 4 KiB records a test "VM" writes to its disk, shared by
 * tests/tools/vmwriter.c (a host process standing in for a VM) and
 * tests/vm/guestwriter.c (the writer inside the real QEMU test guest), so
 * one checker verifies both.
 *
 * Record (little-endian):
 *   0x000  le64 magic      VMREC_MAGIC, or VMREC_MAGIC_TS for a
 *                           timestamped record
 *   0x008  le64 number     the record's index (its offset / 4096)
 *   0x010  le64 timestamp  VMREC_MAGIC_TS only: the writer's
 *                           CLOCK_MONOTONIC in ns when it wrote the record
 *                           (otherwise part of the derived bytes)
 *   ...    bytes derived from the number (xorshift), so a record that lands
 *          at the wrong offset, is torn or is stale fails the check
 *   0xffc  le32 crc32 (zlib) of bytes 0x000..0xffb
 *
 * The writer's clock is the guest's: it stands still while QEMU has the VM
 * stopped (the migration's downtime), so a gap between two timestamps is
 * the stall the guest saw, without the downtime.
 */
#ifndef CSVFS_TESTS_VMREC_H
#define CSVFS_TESTS_VMREC_H

#include <stdint.h>
#include <string.h>
#include <zlib.h>

#define VMREC_SIZE	4096
#define VMREC_MAGIC	0x52564d5346565343ull	/* "CSVFSVMR" */
#define VMREC_MAGIC_TS	0x54564d5346565343ull	/* "CSVFSVMT" */
#define VMREC_TS_OFF	16

static inline void vmrec_put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t vmrec_get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static inline void vmrec_seal(uint8_t *b)
{
	uint32_t crc = (uint32_t)crc32(0, b, VMREC_SIZE - 4);
	int i;

	for (i = 0; i < 4; i++)
		b[VMREC_SIZE - 4 + i] = (uint8_t)(crc >> (8 * i));
}

/* Record n; with ts_magic, a timestamped one carrying ts. */
static inline void vmrec_fill(uint8_t *b, uint64_t n, int ts_magic,
			      uint64_t ts)
{
	uint64_t x = n * 0x9e3779b97f4a7c15ull + 1;
	size_t i;

	vmrec_put64(b, ts_magic ? VMREC_MAGIC_TS : VMREC_MAGIC);
	vmrec_put64(b + 8, n);
	for (i = 16; i < VMREC_SIZE - 4; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)x;
	}
	if (ts_magic)
		vmrec_put64(b + VMREC_TS_OFF, ts);
	vmrec_seal(b);
}

static inline int vmrec_is_zero(const uint8_t *b)
{
	size_t i;

	for (i = 0; i < VMREC_SIZE; i++)
		if (b[i])
			return 0;
	return 1;
}

/*
 * NULL when b is record n exactly as written (either kind), else the
 * reason. want is scratch space of VMREC_SIZE bytes.
 */
static inline const char *vmrec_check(const uint8_t *b, uint64_t n,
				      uint8_t *want)
{
	uint64_t magic = vmrec_get64(b);
	int ts = magic == VMREC_MAGIC_TS;

	if (magic != VMREC_MAGIC && !ts)
		return vmrec_is_zero(b) ? "missing (reads as zeroes)"
					: "bad magic (torn or foreign)";
	if (vmrec_get64(b + 8) != n)
		return "wrong record number (misplaced)";
	vmrec_fill(want, n, ts, ts ? vmrec_get64(b + VMREC_TS_OFF) : 0);
	if (memcmp(b, want, VMREC_SIZE))
		return "contents differ (torn or corrupt)";
	return NULL;
}

#endif
