#!/usr/bin/env python3
"""qmp.py — a small QMP client for the VM tests (Python standard library only).

  qmp.py SOCK CMD [JSON-ARGS]      run one command; print its "return" as JSON
                                   (exit 1 with the error's class and text)
  qmp.py SOCK wait-migration SECS  poll query-migrate until it ends (completed,
                                   failed or cancelled); print the last answer;
                                   exit 1 unless completed, 2 on the time limit
  qmp.py SOCK wait-status STATUS SECS
                                   poll query-status until it is STATUS
  qmp.py --events SOCK LOG         log every event as one JSON line (with the
                                   host time in "host_time") until QEMU closes
                                   the monitor; waits up to 60 s for SOCK

QEMU offers one QMP monitor per -qmp option; the event logger keeps one of
them for itself, so events sent while no command runs are never lost.
"""
import json
import socket
import sys
import time


class Qmp:
    def __init__(self, path, wait=0.0):
        deadline = time.monotonic() + wait
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)
        self.rfile = self.sock.makefile("r", encoding="utf-8")
        self.events = []
        greeting = self._read()
        if "QMP" not in greeting:
            raise RuntimeError("no QMP greeting: %r" % greeting)
        self.cmd("qmp_capabilities")

    def _read(self):
        line = self.rfile.readline()
        if not line:
            raise EOFError("QEMU closed the monitor")
        return json.loads(line)

    def cmd(self, name, args=None):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall((json.dumps(msg) + "\n").encode())
        while True:
            ans = self._read()
            if "event" in ans:
                self.events.append(ans)
                continue
            if "error" in ans:
                raise QmpError(ans["error"])
            return ans.get("return")


class QmpError(Exception):
    def __init__(self, err):
        super().__init__("%s: %s" % (err.get("class"), err.get("desc")))


def log_events(path, log):
    q = Qmp(path, wait=60)
    with open(log, "a", buffering=1) as out:
        out.write(json.dumps({"event": "LOGGER_CONNECTED",
                              "host_time": time.time()}) + "\n")
        while True:
            try:
                ev = q._read()
            except (EOFError, OSError):
                break
            if "event" in ev:
                ev["host_time"] = time.time()
                out.write(json.dumps(ev) + "\n")


def wait_migration(q, secs):
    deadline = time.monotonic() + secs
    ans = {}
    while time.monotonic() < deadline:
        ans = q.cmd("query-migrate")
        if ans.get("status") in ("completed", "failed", "cancelled"):
            print(json.dumps(ans))
            return 0 if ans["status"] == "completed" else 1
        time.sleep(0.1)
    print(json.dumps(ans))
    return 2


def wait_status(q, want, secs):
    deadline = time.monotonic() + secs
    ans = {}
    while time.monotonic() < deadline:
        ans = q.cmd("query-status")
        if ans.get("status") == want:
            print(json.dumps(ans))
            return 0
        time.sleep(0.1)
    print(json.dumps(ans))
    return 2


def main(argv):
    if len(argv) == 4 and argv[1] == "--events":
        log_events(argv[2], argv[3])
        return 0
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    path, name = argv[1], argv[2]
    try:
        q = Qmp(path, wait=10)
        if name == "wait-migration":
            return wait_migration(q, float(argv[3]))
        if name == "wait-status":
            return wait_status(q, argv[3], float(argv[4]))
        args = json.loads(argv[3]) if len(argv) > 3 else None
        print(json.dumps(q.cmd(name, args)))
        return 0
    except QmpError as e:
        sys.stderr.write("qmp %s: %s\n" % (name, e))
        return 1
    except (OSError, EOFError, RuntimeError, ValueError) as e:
        sys.stderr.write("qmp %s: %s: %s\n" % (name, path, e))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
