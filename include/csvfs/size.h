/*
 * size: the one grammar for sizes on csvfs command lines (mkfs.csvfs -b and
 * -j, csvfsctl reserve and preallocate):
 *
 *   SIZE   = DIGITS [ UNIT [ "i" ] ] [ "B" ]
 *   DIGITS = one or more of 0-9 (no sign, no spaces, decimal only)
 *   UNIT   = K | M | G | T | P   (binary: 2^10 .. 2^50; either case)
 *   "B"    = either case; "i" only after a UNIT
 *
 * so "4096", "4096B", "64M", "64MB", "64MiB", "1g" and "2TiB" are sizes;
 * "", "-1", " 5", "5 M", "5X", "5iB", "0x10" and "1.5G" are not.
 * Header-only: the programs of every folder share it.
 */
#ifndef CSVFS_SIZE_H
#define CSVFS_SIZE_H

#include <errno.h>
#include <stdint.h>

/*
 * Parses s (the whole string) into *out bytes. Returns 0, -EINVAL when s
 * is not a SIZE, -ERANGE when it does not fit 64 bits (*out untouched on
 * error).
 */
static inline int csvfs_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (*p) {
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	case 'p': case 'P': shift = 50; break;
	default: break;
	}
	if (shift) {
		p++;
		if (*p == 'i')
			p++;
	}
	if (*p == 'B' || *p == 'b')
		p++;
	if (*p)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

#endif /* CSVFS_SIZE_H */
