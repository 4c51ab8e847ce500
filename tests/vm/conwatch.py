#!/usr/bin/env python3
"""conwatch.py — wall-clock view of the test guest's progress.

  conwatch.py GLOB OUT

Follows every file matching GLOB (e.g. VMD/s*/console.log: one per QEMU
instance; the target's appears when it starts) every 5 ms and appends "HOST_TIME N" to OUT for
each "gw: synced N" line, HOST_TIME being when the line was first seen.
The guest's own clock stops while QEMU has the VM paused, so this is the
only view that includes a migration's downtime. Runs until killed.
"""
import glob
import re
import sys
import time

SYNCED = re.compile(rb"^gw: synced (\d+)")


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    pattern = argv[1]
    offs, rest = {}, {}
    with open(argv[2], "a", buffering=1) as out:
        while True:
            for path in glob.glob(pattern):
                try:
                    with open(path, "rb") as f:
                        f.seek(offs.get(path, 0))
                        data = f.read()
                except OSError:
                    continue
                if not data:
                    continue
                now = time.time()
                offs[path] = offs.get(path, 0) + len(data)
                lines = (rest.get(path, b"") + data).split(b"\n")
                rest[path] = lines.pop()
                for line in lines:
                    m = SYNCED.match(line.strip(b"\r"))
                    if m:
                        out.write("%.6f %s\n" % (now, m.group(1).decode()))
            time.sleep(0.005)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
