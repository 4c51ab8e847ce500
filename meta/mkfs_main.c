/*
 * mkfs.csvfs: formats a device or image file as a csvfs volume.
 *
 *   mkfs.csvfs [-b 1M|2M|4M|8M] [-n MAX_NODES] [-j JOURNAL_SIZE] [-L LABEL]
 *              [-f] [-q] DEVICE
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "csvfs/errors.h"
#include "csvfs/size.h"
#include "meta/dev.h"
#include "meta/format.h"
#include "meta/ondisk.h"

static const char *prog = "mkfs.csvfs";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-b 1M|2M|4M|8M] [-n MAX_NODES] [-j JOURNAL_SIZE] "
		"[-L LABEL] [-f] [-q] DEVICE\n"
		"  -b, --block-size   large data block size (default 1M)\n"
		"  -n, --max-nodes    node slots, 1..%d (default %d)\n"
		"  -j, --journal-size journal size, e.g. 64M (default: "
		"size/64, 16M..256M)\n"
		"  -L, --label        volume label (up to %d bytes)\n"
		"  -f, --force        overwrite an existing csvfs volume\n"
		"  -q, --quiet        print nothing on success\n",
		prog, CSVFS_MAX_NODES_LIMIT, CSVFS_DEFAULT_NODES,
		CSVFS_LABEL_MAX - 1);
}

/* A size (include/csvfs/size.h); 0 when it is not one. */
static uint64_t parse_size(const char *s)
{
	uint64_t v;

	return csvfs_parse_size(s, &v) ? 0 : v;
}

/*
 * Progress on a terminal (stderr): the zeroing of the device, in percent,
 * rewritten in place at most every 0.2 s, as e2fsprogs' mke2fs does.
 */
static void progress(void *ctx, uint64_t done, uint64_t total)
{
	static uint64_t last_ns;
	static unsigned last_pct = ~0u;
	struct timespec ts;
	uint64_t now;
	unsigned pct = (unsigned)(done * 100 / (total ? total : 1));

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (done < total && (pct == last_pct || now - last_ns < 200000000ull))
		return;
	last_ns = now;
	last_pct = pct;
	fprintf(stderr, "\r%s: zeroing the device: %3u%%", prog, pct);
	if (done >= total)
		fputs(", done\n", stderr);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "block-size", required_argument, NULL, 'b' },
		{ "max-nodes", required_argument, NULL, 'n' },
		{ "journal-size", required_argument, NULL, 'j' },
		{ "label", required_argument, NULL, 'L' },
		{ "force", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct fmt_opts o = { 0 };
	struct csvfs_super sb;
	struct dev *d = NULL;
	int force = 0, quiet = 0, c, rc;
	const char *path;
	uint64_t v;
	char uuid[OD_UUID_STR_LEN], *end;

	while ((c = getopt_long(argc, argv, "b:n:j:L:fqh", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'b':
			v = parse_size(optarg);
			if (v == 1ull << 20 || v == 2ull << 20 ||
			    v == 4ull << 20 || v == 8ull << 20) {
				o.block_shift = (unsigned)__builtin_ctzll(v);
				break;
			}
			fprintf(stderr, "%s: invalid block size '%s': must be "
				"1M, 2M, 4M or 8M\n", prog, optarg);
			return 1;
		case 'n':
			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno || *end || v < 1 ||
			    v > CSVFS_MAX_NODES_LIMIT) {
				fprintf(stderr, "%s: invalid node count '%s': "
					"must be 1..%d\n", prog, optarg,
					CSVFS_MAX_NODES_LIMIT);
				return 1;
			}
			o.max_nodes = (unsigned)v;
			break;
		case 'j':
			v = parse_size(optarg);
			if (v < (4u << 20) || v > (4ull << 30)) {
				fprintf(stderr, "%s: invalid journal size "
					"'%s': must be 4M..4G\n", prog, optarg);
				return 1;
			}
			o.journal_bytes = v;
			break;
		case 'L':
			if (strlen(optarg) >= CSVFS_LABEL_MAX) {
				fprintf(stderr, "%s: label '%s' too long: at "
					"most %d bytes\n", prog, optarg,
					CSVFS_LABEL_MAX - 1);
				return 1;
			}
			o.label = optarg;
			break;
		case 'f':
			force = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 1;
	}
	path = argv[optind];
	rc = dev_open(path, 0, &d);
	if (rc) {
		fprintf(stderr, "%s: %s: cannot open: %s\n", prog, path,
			csvfs_strerror(rc));
		return 1;
	}
	if (!force) {
		rc = fmt_read_super(d, &sb);
		if (rc == 0 || rc == -CSVFS_ETOOSMALL ||
		    rc == -CSVFS_EVERSION) {
			od_uuid_str(sb.hdr.uuid, uuid);
			fprintf(stderr, "%s: %s: already holds a csvfs volume "
				"(uuid %s); use -f to overwrite it\n", prog,
				path, uuid);
			dev_close(d);
			return 1;
		}
	}
	if (d->size < fmt_min_size(&o)) {
		fprintf(stderr, "%s: %s: device too small for %llu MiB blocks "
			"(needs at least %llu MiB, has %llu MiB)\n", prog, path,
			(unsigned long long)1 << ((o.block_shift ?
				o.block_shift : 20) - 20),
			(unsigned long long)(fmt_min_size(&o) >> 20),
			(unsigned long long)(d->size >> 20));
		dev_close(d);
		return 1;
	}
	/* Quiet when stderr is no terminal (scripts, logs). */
	if (!quiet && isatty(STDERR_FILENO))
		o.progress = progress;
	rc = fmt_volume(d, &o, &sb);
	if (rc) {
		fprintf(stderr, "%s: %s: format failed: %s; the device holds "
			"no usable volume\n", prog, path, csvfs_strerror(rc));
		dev_close(d);
		return 1;
	}
	dev_close(d);
	if (!quiet) {
		od_uuid_str(sb.hdr.uuid, uuid);
		printf("%s: %s: csvfs volume created\n"
		       "  uuid        %s\n"
		       "  label       %s\n"
		       "  block size  %u MiB\n"
		       "  blocks      %llu (%llu MiB), data from block %llu\n"
		       "  nodes       %u\n"
		       "  journal     %llu MiB\n",
		       prog, path, uuid, sb.label[0] ? sb.label : "(none)",
		       1u << (sb.block_shift - 20),
		       (unsigned long long)sb.total_blocks,
		       (unsigned long long)(sb.total_blocks <<
					    (sb.block_shift - 20)),
		       (unsigned long long)sb.data_start, sb.max_nodes,
		       (unsigned long long)(sb.journal_len * CSVFS_MBLK_SIZE >>
					    20));
	}
	return 0;
}
