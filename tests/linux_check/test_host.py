#!/usr/bin/env python3
"""Unit tests of the host side's pure parts: the initramfs writer, the kernel's version and
cache handling (offline), the plan parser and the comparison. No QEMU, no network.
Run: python3 tests/linux_check/test_host.py"""

import copy
import gzip
import json
import lzma
import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "scripts", "linux_check"))
sys.path.insert(0, HERE)
import boot  # noqa: E402
import compare  # noqa: E402
import initramfs  # noqa: E402
import kernel as kernelmod  # noqa: E402
import stub_states  # noqa: E402


class Tmp(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="linux-check-test-")
        self.env = dict(os.environ)

    def tearDown(self):
        os.environ.clear()
        os.environ.update(self.env)
        shutil.rmtree(self.dir, ignore_errors=True)

    def file(self, name, data):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path


class InitramfsTest(Tmp):
    def test_entries_and_determinism(self):
        init = self.file("init", b"\x7fELF" + bytes(range(256)) * 3 + b"x")   # odd size: padding
        plan = self.file("plan", b"mmusim-guest-plan 1\nend\n")
        a, b = os.path.join(self.dir, "a.cpio"), os.path.join(self.dir, "b.cpio")
        initramfs.write(a, init, plan)
        os.utime(init, (12345, 12345))                         # file times do not matter
        initramfs.write(b, init, plan)
        with open(a, "rb") as f:
            data = f.read()
        with open(b, "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(len(data) % 4, 0)
        got = initramfs.parse(data)
        self.assertEqual([(n, m, r) for n, m, r, _, _ in got], [
            ("dev", stat.S_IFDIR | 0o755, (0, 0)),
            ("dev/console", stat.S_IFCHR | 0o600, (5, 1)),
            ("proc", stat.S_IFDIR | 0o755, (0, 0)),
            ("sys", stat.S_IFDIR | 0o755, (0, 0)),
            ("init", stat.S_IFREG | 0o755, (0, 0)),
            ("plan", stat.S_IFREG | 0o644, (0, 0)),
        ])
        self.assertEqual([ino for *_, ino in got], [1, 2, 3, 4, 5, 6])
        with open(init, "rb") as f:
            self.assertEqual(got[4][3], f.read())
        self.assertEqual(got[5][3], b"mmusim-guest-plan 1\nend\n")
        # every header: uid, gid, mtime 0 (fields 3, 4, 6 of 13)
        pos = 0
        for _ in range(7):
            hdr = data[pos:pos + 110]
            self.assertEqual(hdr[:6], b"070701")
            f = [int(hdr[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
            self.assertEqual((f[2], f[3], f[5]), (0, 0, 0))
            pos += 110 + f[11]
            pos += (4 - pos % 4) % 4
            pos += f[6] + (4 - f[6] % 4) % 4
        self.assertEqual(pos, len(data))

    def test_cpio_reads_it(self):
        if shutil.which("cpio") is None:
            self.skipTest("no cpio")
        init = self.file("init", b"#!/bin/sh\n")
        plan = self.file("plan", b"p\n")
        arc = os.path.join(self.dir, "x.cpio")
        initramfs.write(arc, init, plan)
        with open(arc, "rb") as f:
            r = subprocess.run(["cpio", "-itv"], stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"crw------- .* 5, +1 .* dev/console")
        self.assertRegex(r.stdout, r"-rwxr-xr-x .* init")

    def test_gzip(self):
        init = self.file("init", b"i")
        plan = self.file("plan", b"p")
        a = os.path.join(self.dir, "a.gz")
        initramfs.write(a, init, plan, compress=True)
        with open(a, "rb") as f:
            data = f.read()
        self.assertEqual(data[4:8], b"\0\0\0\0")                  # gzip mtime 0
        self.assertEqual(len(initramfs.parse(data)), 6)


BANNER = b"Linux version 6.12.95+deb12-arm64 (debian-kernel@lists.debian.org) #1 SMP"


class InitramfsModulesTest(Tmp):
    def test_modules_and_their_order(self):
        init = self.file("init", b"i")
        plan = self.file("plan", b"p")
        a = self.file("m/lz4_compress.ko", b"A" * 5)
        z = self.file("m/zram.ko", b"ZZ")
        arc = os.path.join(self.dir, "x.cpio")
        initramfs.write(arc, init, plan, modules=[a, z])
        with open(arc, "rb") as f:
            got = initramfs.parse(f.read())
        self.assertEqual([n for n, *_ in got], ["dev", "dev/console", "proc", "sys", "init", "plan", "lib", "lib/modules",
                                                "lib/modules/lz4_compress.ko", "lib/modules/zram.ko",
                                                "lib/modules/order"])
        files = {n: (m, data) for n, m, _, data, _ in got}
        self.assertEqual(files["lib/modules/zram.ko"], (stat.S_IFREG | 0o644, b"ZZ"))
        self.assertEqual(files["lib/modules/lz4_compress.ko"][1], b"AAAAA")
        self.assertEqual(files["lib/modules/order"][1], b"lz4_compress.ko\nzram.ko\n")
        self.assertEqual(files["lib/modules"][0], stat.S_IFDIR | 0o755)
        # without modules: the plain six entries
        initramfs.write(arc, init, plan)
        with open(arc, "rb") as f:
            self.assertEqual(len(initramfs.parse(f.read())), 6)
        with self.assertRaises(ValueError):
            initramfs.guest_entries(b"", b"", [("a.ko", b""), ("a.ko", b"")])


def fake_module(name, depends=""):
    """A minimal ELF64 little-endian relocatable file with a .modinfo section."""
    modinfo = b"license=GPL\0depends=%s\0name=%s\0" % (depends.encode(), name.encode())
    shstr = b"\0.modinfo\0.shstrtab\0"
    body = modinfo + shstr
    shoff = 64 + len(body)
    shoff += (8 - shoff % 8) % 8
    ehdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    ehdr += struct.pack("<HHIQQQIHHHHHH", 1, 183, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 3, 2)
    data = ehdr + body + bytes(shoff - 64 - len(body))

    def sh(name_off, off, size, typ):
        return struct.pack("<IIQQQQIIQQ", name_off, typ, 0, 0, off, size, 0, 0, 1, 0)

    data += sh(0, 0, 0, 0) + sh(1, 64, len(modinfo), 1) + sh(10, 64 + len(modinfo), len(shstr), 3)
    return data


def fake_kernel_deb(path, root, version="6.12.9-arm64", modules=None):
    """A kernel .deb built with dpkg-deb: boot/vmlinuz-VERSION, boot/config-VERSION and the
    modules {relative path under kernel/: bytes} (.ko.xz when the name says so)."""
    tree = os.path.join(root, "tree")
    os.makedirs(os.path.join(tree, "DEBIAN"))
    with open(os.path.join(tree, "DEBIAN", "control"), "w") as f:
        f.write("Package: linux-image-%s\nVersion: 6.12.9-1\nArchitecture: arm64\nMaintainer: x <x@example.org>\n"
                "Description: test\n" % version)
    os.makedirs(os.path.join(tree, "boot"))
    with open(os.path.join(tree, "boot", "vmlinuz-" + version), "wb") as f:
        f.write(BANNER)
    with open(os.path.join(tree, "boot", "config-" + version), "wb") as f:
        f.write(b"CONFIG_ARM64_CONTPTE=y\nCONFIG_TRANSPARENT_HUGEPAGE=y\nCONFIG_ZRAM=m\n")
    for rel, data in (modules or {}).items():
        out = os.path.join(tree, "lib", "modules", version, "kernel", rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "wb") as f:
            f.write(lzma.compress(data) if rel.endswith(".xz") else data)
    r = subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stdout)
    shutil.rmtree(tree)
    return path


ZRAM_MODULES = {
    "drivers/block/zram/zram.ko.xz": fake_module("zram", "lz4_compress,lz4hc-compress"),
    "lib/lz4/lz4_compress.ko.xz": fake_module("lz4_compress"),
    "lib/lz4/lz4hc_compress.ko.xz": fake_module("lz4hc_compress", "lz4_compress"),
    "fs/other/other.ko.xz": fake_module("other"),
}


class KernelModulesTest(Tmp):
    def test_modinfo_and_load_order(self):
        self.assertEqual(kernelmod.modinfo(fake_module("zram", "a,b"))[1], ("depends", "a,b"))
        blobs = {kernelmod.module_name(os.path.basename(p)): (".xz", lzma.compress(d)) for p, d in ZRAM_MODULES.items()}
        orders, kos = kernelmod.module_load_order(["zram"], blobs)
        # dependencies first, each once ("lz4hc-compress" is the module lz4hc_compress)
        self.assertEqual(orders, {"zram": ["lz4_compress", "lz4hc_compress", "zram"]})
        self.assertEqual(kos["zram"], ZRAM_MODULES["drivers/block/zram/zram.ko.xz"])
        self.assertNotIn("other", kos)
        del blobs["lz4hc_compress"]
        with self.assertRaisesRegex(kernelmod.KernelError, "no module lz4hc_compress .needed by zram."):
            kernelmod.module_load_order(["zram"], blobs)
        loop = {"a": ("", fake_module("a", "b")), "b": ("", fake_module("b", "a"))}
        with self.assertRaisesRegex(kernelmod.KernelError, "depend on each other"):
            kernelmod.module_load_order(["a"], loop)

    def test_extract_keeps_only_the_modules_needed(self):
        if shutil.which("dpkg-deb") is None:
            self.skipTest("no dpkg-deb")
        deb = fake_kernel_deb(os.path.join(self.dir, "k.deb"), self.dir, modules=ZRAM_MODULES)
        dest = os.path.join(self.dir, "out")
        os.makedirs(dest)
        found = kernelmod._extract(deb, dest, modules=("zram",))
        self.assertEqual(found["modules"], {"zram": ["lz4_compress.ko", "lz4hc_compress.ko", "zram.ko"]})
        self.assertEqual(sorted(os.listdir(os.path.join(dest, "modules"))),
                         ["lz4_compress.ko", "lz4hc_compress.ko", "zram.ko"])
        with open(os.path.join(dest, "modules", "zram.ko"), "rb") as f:   # decompressed
            self.assertEqual(f.read(), ZRAM_MODULES["drivers/block/zram/zram.ko.xz"])
        self.assertEqual(found["vmlinuz"][1], "6.12.9-arm64")
        # boot=False: the modules only
        dest2 = os.path.join(self.dir, "out2")
        os.makedirs(dest2)
        found = kernelmod._extract(deb, dest2, boot=False, modules=("zram",))
        self.assertNotIn("vmlinuz", found)
        self.assertEqual(sorted(os.listdir(dest2)), ["modules"])

    def kernel(self, config, modules=None, package=None, cache_dir=None):
        cfg = self.file("k/config", config) if config is not None else None
        return kernelmod.Kernel(self.file("k/Image", BANNER), "6.12.9-arm64", cfg, package, "test",
                                modules=modules, cache_dir=cache_dir)

    def test_guest_modules(self):
        self.assertEqual(self.kernel(b"CONFIG_ZRAM=y\n").guest_modules(["zram"]), [])
        self.assertEqual(self.kernel(b"CONFIG_ZRAM=m\n", {"zram": ["/c/a.ko", "/c/zram.ko"]}).guest_modules(["zram"]),
                         ["/c/a.ko", "/c/zram.ko"])
        with self.assertRaisesRegex(kernelmod.KernelError, "CONFIG_ZRAM=m, and linux-check has no modules.*--kernel"):
            self.kernel(b"CONFIG_ZRAM=m\n").guest_modules(["zram"])
        with self.assertRaisesRegex(kernelmod.KernelError, "no zram driver .CONFIG_ZRAM is not set"):
            self.kernel(b"# CONFIG_ZRAM is not set\n").guest_modules(["zram"])
        with self.assertRaisesRegex(kernelmod.KernelError, "no module nvme"):
            self.kernel(b"CONFIG_ZRAM=y\n").guest_modules(["nvme"])
        # no config: nothing known, the guest finds out
        self.assertEqual(self.kernel(None).guest_modules(["zram"]), [])

    def cached_kernel_without_modules(self):
        os.environ["MMUSIM_CACHE"] = os.path.join(self.dir, "cache")
        os.environ["MMUSIM_DEBIAN_MIRROR"] = "http://127.0.0.1:9/debian"   # refused at once
        d = os.path.join(self.dir, "cache", "linux-arm64", "linux-image-6.12.9-arm64_6.12.9-1")
        self.file(os.path.join(d, "vmlinuz-6.12.9-arm64"), BANNER)
        self.file(os.path.join(d, "config-6.12.9-arm64"), b"CONFIG_ZRAM=m\n")
        self.file(os.path.join(d, "kernel.json"),
                  b'{"package": "linux-image-6.12.9-arm64_6.12.9-1", "version": "6.12.9-arm64", '
                  b'"image": "vmlinuz-6.12.9-arm64", "config": "config-6.12.9-arm64"}')
        (k,) = kernelmod._cached_kernels(os.path.join(self.dir, "cache", "linux-arm64"))
        self.assertIsNone(k.modules)
        return k, d

    def test_a_kernel_cached_without_modules_gets_them_from_its_package(self):
        if shutil.which("dpkg-deb") is None:
            self.skipTest("no dpkg-deb")
        k, d = self.cached_kernel_without_modules()
        archives = os.path.join(self.dir, "cache", "linux-arm64", "apt", "cache", "archives")
        os.makedirs(archives)
        deb = fake_kernel_deb(os.path.join(archives, "linux-image-6.12.9-arm64_6.12.9-1_arm64.deb"), self.dir,
                              modules=ZRAM_MODULES)
        msgs = []
        files = k.guest_modules(["zram"], log=msgs.append)
        self.assertEqual([os.path.basename(f) for f in files], ["lz4_compress.ko", "lz4hc_compress.ko", "zram.ko"])
        self.assertTrue(all(os.path.dirname(f) == os.path.join(d, "modules") for f in files))
        self.assertTrue(any("extracted the modules" in m for m in msgs), msgs)
        self.assertFalse(os.path.exists(deb))                        # the package is not kept
        with open(os.path.join(d, "kernel.json")) as f:
            self.assertEqual(json.load(f)["modules"]["zram"], ["lz4_compress.ko", "lz4hc_compress.ko", "zram.ko"])
        (again,) = kernelmod._cached_kernels(os.path.join(self.dir, "cache", "linux-arm64"))
        self.assertEqual(again.modules["zram"], files)

    def test_a_kernel_cached_without_modules_offline_is_a_clear_error(self):
        k, _ = self.cached_kernel_without_modules()
        with self.assertRaises(kernelmod.KernelError) as cm:
            k.guest_modules(["zram"])
        self.assertIn("needs the Debian archive once more", str(cm.exception))


class KernelTest(Tmp):
    def test_image_version(self):
        img = self.file("Image", b"MZ" + b"\0" * (3 << 20) + BANNER + b"\0" * 100)
        self.assertEqual(kernelmod.image_version(img), "6.12.95+deb12-arm64")
        gz = self.file("Image.gz", gzip.compress(b"\0" * 1000 + b"Linux version 6.14.0-rc1 (x)\0"))
        self.assertEqual(kernelmod.image_version(gz), "6.14.0-rc1")
        # the banner across a 1 MiB read boundary
        img2 = self.file("Image2", b"\0" * ((1 << 20) - 10) + b"Linux version 6.10.3 (y)")
        self.assertEqual(kernelmod.image_version(img2), "6.10.3")
        self.assertIsNone(kernelmod.image_version(self.file("junk", b"\0" * 4096)))

    def test_from_path(self):
        img = self.file("k/Image", BANNER)
        self.file("k/config-6.12.95+deb12-arm64", b"CONFIG_ARM64_CONTPTE=y\n# CONFIG_TRANSPARENT_HUGEPAGE is not set\n")
        k = kernelmod.get_kernel(img)
        self.assertEqual((k.version, k.major_minor), ("6.12.95+deb12-arm64", "6.12"))
        self.assertEqual(k.check_config(), ["CONFIG_TRANSPARENT_HUGEPAGE is not =y in %s" % k.config_path])
        with self.assertRaisesRegex(kernelmod.KernelError, "no .Linux version"):
            kernelmod.get_kernel(self.file("k2/Image", b"nothing"))
        with self.assertRaisesRegex(kernelmod.KernelError, "no such file"):
            kernelmod.get_kernel(os.path.join(self.dir, "absent"))

    def test_host_mirror(self):
        one = self.file("s.list", b"# deb http://old/debian bookworm main\n"
                                  b"deb [signed-by=/k.gpg] http://mirror.example/debian/ bookworm main\n")
        deb822 = self.file("d.sources", b"Types: deb\nURIs: http://deb.debian.org/debian-security\n"
                                        b"Suites: bookworm-security\n\nTypes: deb\n"
                                        b"URIs: http://ftp.example/debian\nSuites: bookworm\n")
        self.assertEqual(kernelmod.host_mirror([one]), "http://mirror.example/debian")
        self.assertEqual(kernelmod.host_mirror([deb822]), "http://ftp.example/debian")
        self.assertEqual(kernelmod.host_mirror([]), kernelmod.DEFAULT_MIRROR)

    def offline(self):
        os.environ["MMUSIM_CACHE"] = os.path.join(self.dir, "cache")
        os.environ["MMUSIM_DEBIAN_MIRROR"] = "http://127.0.0.1:9/debian"   # refused at once

    def test_offline_without_cache_says_how_to_pass_a_kernel(self):
        self.offline()
        with self.assertRaises(kernelmod.KernelError) as cm:
            kernelmod.get_kernel()
        msg = str(cm.exception)
        self.assertIn("apt-get update failed", msg)
        self.assertIn("--kernel PATH", msg)
        self.assertNotIn("\n", msg)

    def test_offline_uses_the_cached_kernel(self):
        self.offline()
        d = os.path.join(self.dir, "cache", "linux-arm64", "linux-image-6.12.9-arm64_6.12.9-1")
        self.file(os.path.join(d, "vmlinuz-6.12.9-arm64"), BANNER)
        self.file(os.path.join(d, "config-6.12.9-arm64"), b"CONFIG_ARM64_CONTPTE=y\nCONFIG_TRANSPARENT_HUGEPAGE=y\n")
        self.file(os.path.join(d, "kernel.json"),
                  b'{"package": "linux-image-6.12.9-arm64_6.12.9-1", "version": "6.12.9-arm64", '
                  b'"image": "vmlinuz-6.12.9-arm64", "config": "config-6.12.9-arm64"}')
        # stale lists: a refresh is tried, fails, and the cache serves
        lists = os.path.join(self.dir, "cache", "linux-arm64", "apt", "state", "lists")
        p = self.file(os.path.join(lists, "x_dists_bookworm-backports_main_binary-arm64_Packages"), b"")
        os.utime(p, (time.time() - 3 * 86400,) * 2)
        msgs = []
        k = kernelmod.get_kernel(log=msgs.append)
        self.assertEqual((k.version, k.package, k.check_config()),
                         ("6.12.9-arm64", "linux-image-6.12.9-arm64_6.12.9-1", []))
        self.assertTrue(any("using the cached kernel" in m for m in msgs), msgs)


class DriverErrorsTest(Tmp):
    def run_driver(self, *args, path=None):
        env = dict(os.environ)
        if path is not None:
            env["PATH"] = path
        return subprocess.run([sys.executable, os.path.join(REPO, "scripts", "linux-check")] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, timeout=60)

    def test_missing_tools_name_the_debian_packages(self):
        r = self.run_driver("x.json", path=self.dir)   # nothing on PATH
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing tools; install the Debian packages: apt-get install "
                      "qemu-system-arm gdb-multiarch gcc-aarch64-linux-gnu", r.stderr)

    def test_missing_mmusim(self):
        from boot import missing_tools
        if missing_tools():
            self.skipTest("tools missing")
        r = self.run_driver("--mmusim", os.path.join(self.dir, "nope"), "x.json")
        self.assertEqual(r.returncode, 2)
        self.assertIn("is not an executable mmusim", r.stderr)


PLAN = """mmusim-guest-plan 1
sysfs /sys/kernel/mm/transparent_hugepage/enabled never
region heap 0x10000000 0x400000
region other 0x10600000 0x200000
op 0 mmap 0x10000000 0x400000 rw private
checkpoint 0 after-fault
op 0 fork 1
op 1 fork 2
checkpoint 1 forked
op 1 exit
checkpoint 2 one exited
end
"""


class BootArgsTest(unittest.TestCase):
    def test_numa_args(self):
        self.assertEqual(boot.numa_args("1G", 0), [])
        self.assertEqual(boot.numa_args("1G", 2), [
            "-object", "memory-backend-ram,id=m0,size=512M", "-numa", "node,nodeid=0,cpus=0,memdev=m0",
            "-object", "memory-backend-ram,id=m1,size=512M", "-numa", "node,nodeid=1,memdev=m1"])
        self.assertEqual(boot.memory_mib("2048"), 2048)
        with self.assertRaises(boot.BootError):
            boot.numa_args("1G", 3)


class CompareTest(unittest.TestCase):
    def test_parse_plan(self):
        p = compare.parse_plan(PLAN)
        self.assertEqual(p["regions"], [("heap", 0x10000000, 0x400000), ("other", 0x10600000, 0x200000)])
        self.assertEqual(p["checkpoints"], [(0, "after-fault"), (1, "forked"), (2, "one exited")])
        self.assertEqual(p["stops"], [(0, "after-fault", 0), (1, "forked", 0), (1, "forked", 1), (1, "forked", 2),
                                      (2, "one exited", 0), (2, "one exited", 2)])
        self.assertIsNone(p["swap"])
        p = compare.parse_plan(PLAN.replace("region heap", "swap zram 0x40000000\nregion heap", 1))
        self.assertEqual(p["swap"], ("zram", 0x40000000))
        self.assertEqual(p["numa"], 0)
        self.assertEqual(compare.parse_plan("mmusim-guest-plan 1\nnuma 2\nregion heap 0x1000 0x1000\nend\n")["numa"], 2)
        with self.assertRaises(compare.PlanError):
            compare.parse_plan("mmusim-guest-plan 1\nregion heap 0x1000\nend\n")
        with self.assertRaises(compare.PlanError):
            compare.parse_plan("mmusim-guest-plan 1\n")
        with self.assertRaises(compare.PlanError):
            compare.parse_plan("hello\nend\n")

    def test_swap_warning(self):
        plan = compare.parse_plan(PLAN.replace("region heap", "swap zram 0x40000000\nregion heap", 1))
        linux = {"checkpoints": [{"counters": {"vmstat/pswpout": 0}}, {"counters": {"vmstat/pswpout": 0}}]}
        self.assertIn("wrote no page to swap", compare.swap_warning(plan, linux))
        linux["checkpoints"][-1]["counters"]["vmstat/pswpout"] = 16
        self.assertIsNone(compare.swap_warning(plan, linux))
        self.assertIsNone(compare.swap_warning(compare.parse_plan(PLAN), {"checkpoints": [{"counters": {}}]}))

    def test_counters(self):
        linux = {"faults": 64, "thp/64kB/anon_fault_alloc": 4, "thp/2048kB/anon_fault_alloc": 0,
                 "thp/16kB/anon_fault_alloc": 0, "thp/64kB/anon_fault_fallback": 1,
                 "thp/2048kB/anon_fault_fallback": 2, "thp/64kB/split": 1, "thp/2048kB/split": 2,
                 "vmstat/thp_split_page": 9}
        model = {"faults": 64, "anon_fault_alloc": {"65536": 4}, "anon_fault_fallback": 3, "split": 3}
        rows = {n: (a, b, e) for n, a, b, e in compare.compare_counters(linux, model)}
        self.assertEqual(rows["faults"], (64, 64, True))
        self.assertEqual(rows["anon_fault_alloc[65536]"], (4, 4, True))
        self.assertEqual(rows["anon_fault_alloc[2097152]"], (0, 0, True))     # missing = 0
        self.assertEqual(rows["anon_fault_fallback"], (3, 3, True))            # summed over sizes
        self.assertEqual(rows["split"], (3, 3, True))
        model2 = dict(model, anon_fault_alloc={"65536": 4, "2097152": 1}, split=2,
                      anon_fault_fallback={"65536": 1, "2097152": 1})
        rows = {n: (a, b, e) for n, a, b, e in compare.compare_counters(linux, model2)}
        self.assertEqual(rows["anon_fault_alloc[2097152]"], (0, 1, False))
        self.assertEqual(rows["split"], (3, 2, False))
        self.assertEqual(rows["anon_fault_fallback[2097152]"], (2, 1, False))
        self.assertEqual(rows["anon_fault_fallback[65536]"], (1, 1, True))
        self.assertFalse(dict((n, e) for n, _, _, e in compare.compare_counters({}, {"faults": 0}))["faults"])

    def test_norm(self):
        a = {"va": "0x1000", "entry": "page", "level": 3, "write": "dirty", "af": True, "cont": True,
             "folio": {"size": 65536, "index": 2}, "pte": "0x123", "pagemap": "0x1"}
        b = {"va": "0x1000", "entry": "page", "level": 3, "write": "dirty", "af": True, "cont": True,
             "prot_none": False, "exec": False, "zero": False, "folio": {"size": 65536, "index": 2}, "pte": "0x0"}
        self.assertEqual(compare.norm(a), compare.norm(b))              # absent booleans are false; pte ignored
        self.assertNotEqual(compare.norm(a), compare.norm(dict(b, cont=False)))
        self.assertNotEqual(compare.norm(a), compare.norm(dict(b, folio={"size": 65536, "index": 3})))
        self.assertNotEqual(compare.norm(a), compare.norm(dict(b, level=2)))
        self.assertEqual(compare.norm({"entry": "swap", "swap_type": 0}), compare.norm({"entry": "swap", "pte": "0x40"}))
        self.assertNotEqual(compare.norm({"entry": "swap"}), compare.norm({"entry": "migration"}))

    def test_a_folded_block_is_compared_as_the_kernel_reads_it(self):
        def block(cont, young_pages, dirty_pages):
            return {0x10000 + i * 4096: {"entry": "page", "level": 3, "cont": cont, "af": i in young_pages,
                                         "write": "dirty" if i in dirty_pages else "clean",
                                         "folio": {"size": 65536, "index": i}} for i in range(16)}
        # One young, dirty descriptor (a CPU caching the block whole) equals all of them
        # young and dirty (QEMU walking each page): contpte_ptep_get ORs them.
        one, every = compare.contpte_view(block(True, {3}, {3})), compare.contpte_view(block(True, range(16), range(16)))
        self.assertEqual(one, every)
        self.assertNotEqual(one, compare.contpte_view(block(True, set(), set())))
        # Not folded: each entry stands for itself.
        self.assertNotEqual(compare.contpte_view(block(False, {3}, {3})), compare.contpte_view(block(False, range(16), range(16))))
        # A block with a page missing is not a folded block.
        partial = block(True, {3}, {3})
        del partial[0x10000 + 15 * 4096]
        self.assertFalse(compare.contpte_view(partial)[0x10000]["af"])

    @staticmethod
    def linux_of(model):
        """Linux's states equal to the model's, with counters as the guest names them."""
        linux = copy.deepcopy(model)
        for c in linux["checkpoints"]:
            c["counters"] = {"faults": stub_states.FAULTS, "thp/64kB/anon_fault_alloc": 3,
                             "thp/2048kB/anon_fault_alloc": 0, "thp/64kB/split": 0}
        return linux

    def test_compare_and_report(self):
        model = stub_states.model_doc()
        linux = self.linux_of(model)
        res = compare.compare(linux, model)
        self.assertTrue(res["equal"])
        self.assertEqual([p["pages_equal"] for c in res["checkpoints"] for p in c["processes"]], [1536] * 3)
        pages = linux["checkpoints"][1]["processes"][1]["pages"]
        for p in pages[:10]:
            p["cont"] = False
        del pages[-1]
        linux["checkpoints"][1]["processes"].append({"id": 7, "pages": []})
        res = compare.compare(linux, model, max_diffs=3)
        self.assertFalse(res["equal"])
        p1 = res["checkpoints"][1]["processes"][1]
        self.assertEqual((p1["pages_compared"], p1["pages_equal"], p1["pages_differing"]), (1536, 1525, 11))
        self.assertEqual(len(p1["diffs"]), 3)
        self.assertEqual(p1["diffs"][0]["fields"], ["cont"])
        self.assertEqual(res["checkpoints"][1]["processes"][2]["missing"], "model")
        text = "\n".join(compare.format_text(res))
        self.assertIn("process 1: pages compared 1536, pages equal 1525", text)
        self.assertIn("0x10000000 heap   linux: page L3 ro folio 64K/0 | model: page L3 cont ro folio 64K/0  [cont]",
                      text)
        self.assertIn("... and 8 more differing pages", text)
        self.assertIn("process 7: pages compared 0, pages equal 0 (no states from the model)", text)

    def test_a_missing_checkpoint_is_a_difference(self):
        model = stub_states.model_doc()
        linux = self.linux_of(model)
        del linux["checkpoints"][1]
        res = compare.compare(linux, model)
        self.assertFalse(res["equal"])
        self.assertEqual(res["checkpoints"][1]["missing"], "linux")
        self.assertIn('checkpoint 1 "after-fork": MISSING in the linux\'s states', "\n".join(compare.format_text(res)))


if __name__ == "__main__":
    unittest.main()
