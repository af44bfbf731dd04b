"""Building the guest, booting it under QEMU and collecting its page states through gdb.

QEMU is started here, stopped at reset (-S) with its gdbstub on a free loopback port;
gdb-multiarch runs gdb_agent.py, which reports each checkpoint stop on its stdout. A
checkpoint that does not come within the timeout (wall seconds, counted from the previous
stop; the first one includes the boot) ends the run: QEMU is killed by its PID, and the
error names the checkpoint expected next and the console log. QEMU is always stopped by
PID at the end.
"""

import hashlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

import kernel as kernelmod

HERE = os.path.dirname(os.path.abspath(__file__))
AGENT = os.path.join(HERE, "gdb_agent.py")

TOOLS = [
    ("qemu-system-aarch64", "qemu-system-arm"),
    ("gdb-multiarch", "gdb-multiarch"),
    ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
]
ARM64_LIBC = "/usr/aarch64-linux-gnu/lib/libc.a"
GUEST_CFLAGS = ["-static", "-no-pie", "-O2", "-g", "-Wall", "-Wextra", "-Werror"]
KERNEL_CMDLINE = "console=ttyAMA0 panic=-1 nokaslr norandmaps"
# With more than one NUMA node the kernel turns automatic NUMA balancing on
# (CONFIG_NUMA_BALANCING_DEFAULT_ENABLED): its scanner would make the plan's entries PROT_NONE.
NUMA_CMDLINE = " numa_balancing=disable"


class BootError(Exception):
    def __init__(self, message, console=None):
        super().__init__(message)
        self.console = console


def missing_tools():
    """Debian packages to install for the tools that are missing (empty when all found)."""
    pkgs = [pkg for tool, pkg in TOOLS if shutil.which(tool) is None]
    if not os.path.exists(ARM64_LIBC):
        pkgs.append("libc6-dev-arm64-cross")
    if shutil.which("dpkg-deb") is None:
        pkgs.append("dpkg")
    return pkgs


def guest_cache_dir():
    return os.path.join(kernelmod.mmusim_cache(), "linux-check")


def build_guest(source, cache_dir=None, log=None):
    """Compiles the guest (static, non-PIE aarch64) once per content of `source` and the
    compiler flags; returns the ELF's path."""
    cache_dir = cache_dir or guest_cache_dir()
    with open(source, "rb") as f:
        src = f.read()
    h = hashlib.sha256(src + b"\0" + " ".join(GUEST_CFLAGS).encode()).hexdigest()[:16]
    out = os.path.join(cache_dir, "guest-%s" % h)
    if os.path.exists(out):
        return out
    os.makedirs(cache_dir, exist_ok=True)
    tmp = "%s.tmp.%d" % (out, os.getpid())
    if log:
        log("building the guest %s" % source)
    r = subprocess.run(["aarch64-linux-gnu-gcc"] + GUEST_CFLAGS + ["-o", tmp, source],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise BootError("aarch64-linux-gnu-gcc could not build %s:\n%s" % (source, r.stdout.rstrip()))
    os.replace(tmp, out)
    return out


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def listening(port):
    """Whether something listens on 127.0.0.1:port (read from /proc/net/tcp, so that the
    gdbstub sees no client before gdb)."""
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[1] == "0100007F:%04X" % port and parts[3] == "0A":
                    return True
    except (OSError, StopIteration, IndexError):
        return True  # cannot tell: let the agent's connection retries decide
    return False


def _stop(proc, grace=2.0):
    """Stops a child by its PID: SIGTERM, then SIGKILL after `grace` seconds."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def _kill(proc):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def console_tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    return lines[-n:]


def memory_mib(memory):
    """QEMU's -m size ("1G", "512M", "1024") in MiB."""
    m = str(memory).strip().upper()
    scale = {"G": 1024, "M": 1}
    if m and m[-1] in scale:
        return int(m[:-1]) * scale[m[-1]]
    return int(m)


def numa_args(memory, nodes):
    """QEMU options for `nodes` NUMA nodes that share `memory` equally, each its own RAM
    backend; the one CPU is on node 0 (the others have memory only)."""
    if nodes < 2:
        return []
    mib = memory_mib(memory)
    if mib % nodes:
        raise BootError("%s of memory cannot be split into %d equal NUMA nodes" % (memory, nodes))
    args = []
    for n in range(nodes):
        args += ["-object", "memory-backend-ram,id=m%d,size=%dM" % (n, mib // nodes),
                 "-numa", "node,nodeid=%d,%smemdev=m%d" % (n, "cpus=0," if n == 0 else "", n)]
    return args


def describe_stop(stop):
    if stop is None:
        return "the end of the plan (mmusim_done_hook)"
    index, name, process = stop
    return "checkpoint %d \"%s\" (process %d)" % (index, name, process)


def run_guest(kernel_image, initrd, guest_elf, workdir, expected=None, timeout=60.0,
              log=None, qemu_extra=(), memory="1G", numa_nodes=0):
    """Boots `kernel_image` with `initrd` and collects the checkpoint stops of the guest.

    numa_nodes: 2 or more boots a machine with that many NUMA nodes (the plan's "numa N"
    line), the memory split equally among them, with automatic NUMA balancing off.
    expected: the stops the plan makes, [(index, name, process)], for the timeout's error
    message (None: unknown). Returns the agent's document (see gdb_agent.py) plus
    "timings". Raises BootError (QEMU killed, console log kept in workdir)."""
    log = log or (lambda msg: None)
    os.makedirs(workdir, exist_ok=True)
    console = os.path.join(workdir, "console.log")
    out = os.path.join(workdir, "linux-raw.json")
    for p in (console, out):
        if os.path.exists(p):
            os.remove(p)
    expected = list(expected) if expected is not None else None
    t0 = time.monotonic()
    for attempt in range(3):
        port = free_port()
        qemu_cmd = ["qemu-system-aarch64", "-M", "virt", "-cpu", "neoverse-n1", "-smp", "1",
                    "-m", memory, "-display", "none", "-monitor", "none",
                    "-serial", "file:" + console, "-nic", "none", "-no-reboot",
                    "-kernel", kernel_image, "-initrd", initrd,
                    "-append", KERNEL_CMDLINE + (NUMA_CMDLINE if numa_nodes >= 2 else ""),
                    "-S", "-gdb", "tcp:127.0.0.1:%d" % port] + numa_args(memory, numa_nodes) + list(qemu_extra)
        with open(os.path.join(workdir, "qemu.log"), "w") as qlog:
            qemu = subprocess.Popen(qemu_cmd, stdin=subprocess.DEVNULL, stdout=qlog,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        # QEMU listens once it has set up the machine; a port taken meanwhile makes it exit
        deadline = time.monotonic() + 10
        while qemu.poll() is None and time.monotonic() < deadline and not listening(port):
            time.sleep(0.02)
        if qemu.poll() is None:
            break
        with open(os.path.join(workdir, "qemu.log"), errors="replace") as f:
            qerr = f.read().strip()
        if "Address already in use" not in qerr or attempt == 2:
            raise BootError("qemu-system-aarch64 exited at once (status %s): %s" % (qemu.returncode, qerr))
    agent_cfg = os.path.join(workdir, "agent.json")
    with open(agent_cfg, "w") as f:
        json.dump({"guest": guest_elf, "port": port, "output": out, "connect_timeout": 15}, f)
    env = dict(os.environ, MMUSIM_AGENT_CONFIG=agent_cfg, PYTHONDONTWRITEBYTECODE="1")
    gdb_log = open(os.path.join(workdir, "gdb.log"), "w")
    gdb = subprocess.Popen(["gdb-multiarch", "-nx", "-batch", "-x", AGENT], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=gdb_log, env=env, start_new_session=True)
    timings = {"checkpoints": []}
    stops = []
    done = None
    error = None
    buf = b""
    last = time.monotonic()
    try:
        while True:
            nxt = expected[len(stops)] if expected is not None and len(stops) < len(expected) else None
            remaining = timeout - (time.monotonic() - last)
            if remaining <= 0:
                _kill(qemu)
                what = describe_stop(nxt) if expected is not None else "the next checkpoint"
                raise BootError("timeout: %s was not reached within %g s (wall); QEMU was killed. "
                                "Console log: %s" % (what, timeout, console), console)
            r, _, _ = select.select([gdb.stdout], [], [], min(remaining, 1.0))
            if not r:
                if gdb.poll() is not None:
                    error = error or "gdb-multiarch exited (status %s) without reporting the end" % gdb.returncode
                    break
                continue
            chunk = os.read(gdb.stdout.fileno(), 65536)
            if not chunk:
                gdb.wait()
                if done is None and error is None:
                    error = "gdb-multiarch exited (status %s) without reporting the end" % gdb.returncode
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                gdb_log.write(line.decode(errors="replace") + "\n")
                if not line.startswith(b"MMUSIM-AGENT "):
                    continue
                ev = json.loads(line[len(b"MMUSIM-AGENT "):].decode())
                now = time.monotonic()
                if ev["event"] == "connected":
                    timings["connected"] = round(now - t0, 3)
                    last = now
                elif ev["event"] == "checkpoint":
                    stops.append((ev["index"], ev["process"]))
                    timings["checkpoints"].append({
                        "index": ev["index"], "process": ev["process"], "wall": round(now - last, 3),
                        "run": ev.get("run_seconds"), "walk": ev.get("walk_seconds"),
                        "tables_read": ev.get("tables_read"), "pages": ev.get("npages")})
                    log("checkpoint %d process %d: %d pages walked (%.1f s to reach, %.2f s to walk)"
                        % (ev["index"], ev["process"], ev.get("npages", 0), now - last, ev.get("walk_seconds", 0)))
                    last = now
                elif ev["event"] == "done":
                    done = ev
                elif ev["event"] == "error":
                    error = ev.get("message", "?")
            if done is not None or error is not None:
                break
    finally:
        if error is not None:
            try:  # a lost connection: QEMU may be on its way out by itself
                qemu.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        qemu_status = qemu.poll()
        if error is not None or done is None:
            _kill(qemu)
        else:
            _stop(qemu)
        _stop(gdb, grace=5.0)
        gdb.stdout.close()
        gdb_log.close()
    timings["total"] = round(time.monotonic() - t0, 3)
    if error is not None:
        nxt = expected[len(stops)] if expected is not None and len(stops) < len(expected) else None
        where = (" while waiting for %s" % describe_stop(nxt)) if expected is not None else ""
        error = error.strip().rstrip(".")
        if qemu_status is not None:
            # QEMU ended by itself: the kernel panicked (init died) or the machine powered off
            error = "QEMU exited (status %s) before that (gdb: %s)" % (qemu_status, error)
        tail = console_tail(console, 400)
        told = [l for l in tail if "Kernel panic" in l or "mmusim-guest" in l or "Power down" in l
                or "reboot:" in l][-6:]
        raise BootError("the guest run failed%s: %s. Console log: %s%s" % (
            where, error, console, "".join("\n  console: " + l for l in told)), console)
    try:
        with open(out) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise BootError("the gdb agent left no readable %s: %s" % (out, e), console)
    doc["timings"] = timings
    doc["console"] = console
    return doc


if __name__ == "__main__":
    # python3 boot.py KERNEL INITRD GUEST WORKDIR: boots once, prints the stops' summary
    d = run_guest(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], log=print)
    print(json.dumps(d["timings"], indent=1), "status", d["status"])
