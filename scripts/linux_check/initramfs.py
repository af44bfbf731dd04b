"""A deterministic initramfs (newc cpio) written in pure Python, no privileges needed.

The archive holds /dev, /dev/console (char 5:1), /proc, /sys, /init (the guest program)
and /plan; with kernel modules, also /lib/modules/NAME.ko for each and /lib/modules/order,
their file names one a line in the order the guest loads them. Every entry has mtime 0, uid/gid 0 and a fixed inode number, so the same inputs
give the same bytes.
"""

import gzip
import io
import os
import stat

NEWC_MAGIC = b"070701"


def _pad4(n):
    return (4 - n % 4) % 4


def newc_entry(ino, name, mode, data=b"", nlink=1, rdev=(0, 0)):
    name_b = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0]
    hdr = NEWC_MAGIC + b"".join(b"%08X" % f for f in fields)
    out = hdr + name_b + b"\0" * _pad4(len(hdr) + len(name_b))
    out += data + b"\0" * _pad4(len(data))
    return out


def build(entries):
    """entries: (name, mode, data, rdev) tuples, name without a leading slash.
    Returns the newc archive's bytes, trailer included."""
    buf = io.BytesIO()
    for i, (name, mode, data, rdev) in enumerate(entries):
        nlink = 2 if stat.S_ISDIR(mode) else 1
        buf.write(newc_entry(i + 1, name, mode, data, nlink, rdev))
    buf.write(newc_entry(0, "TRAILER!!!", 0))
    return buf.getvalue()


MODULES_DIR = "lib/modules"
MODULES_ORDER = MODULES_DIR + "/order"


def guest_entries(init_bytes, plan_bytes, modules=()):
    """modules: [(file name, bytes)] in load order."""
    out = [
        ("dev", stat.S_IFDIR | 0o755, b"", (0, 0)),
        ("dev/console", stat.S_IFCHR | 0o600, b"", (5, 1)),
        ("proc", stat.S_IFDIR | 0o755, b"", (0, 0)),
        ("sys", stat.S_IFDIR | 0o755, b"", (0, 0)),
        ("init", stat.S_IFREG | 0o755, init_bytes, (0, 0)),
        ("plan", stat.S_IFREG | 0o644, plan_bytes, (0, 0)),
    ]
    if modules:
        names = [n for n, _ in modules]
        if len(set(names)) != len(names) or any("/" in n or "\n" in n or not n for n in names):
            raise ValueError("module file names must be distinct, without / or newlines: %r" % names)
        out += [("lib", stat.S_IFDIR | 0o755, b"", (0, 0)),
                (MODULES_DIR, stat.S_IFDIR | 0o755, b"", (0, 0))]
        out += [("%s/%s" % (MODULES_DIR, n), stat.S_IFREG | 0o644, data, (0, 0)) for n, data in modules]
        out.append((MODULES_ORDER, stat.S_IFREG | 0o644, "".join(n + "\n" for n in names).encode(), (0, 0)))
    return out


def write(path, init_path, plan_path, compress=False, modules=()):
    """Writes the initramfs of the guest program init_path and the plan plan_path, with the
    kernel modules at the paths `modules` (loaded in that order)."""
    with open(init_path, "rb") as f:
        init_bytes = f.read()
    with open(plan_path, "rb") as f:
        plan_bytes = f.read()
    mods = []
    for m in modules:
        with open(m, "rb") as f:
            mods.append((os.path.basename(m), f.read()))
    data = build(guest_entries(init_bytes, plan_bytes, mods))
    if compress:
        data = gzip.compress(data, compresslevel=6, mtime=0)
    with open(path, "wb") as f:
        f.write(data)
    return path


def parse(data):
    """Reads a newc archive back: [(name, mode, rdev, data)]. For tests."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    out = []
    pos = 0
    while True:
        if data[pos:pos + 6] != NEWC_MAGIC:
            raise ValueError("bad newc magic at offset %d" % pos)
        f = [int(data[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        namesize, filesize = f[11], f[6]
        name = data[pos + 110:pos + 110 + namesize - 1].decode()
        pos += 110 + namesize
        pos += _pad4(pos)
        body = data[pos:pos + filesize]
        pos += filesize + _pad4(filesize)
        if name == "TRAILER!!!":
            return out
        out.append((name, f[1], (f[9], f[10]), body, f[0]))
