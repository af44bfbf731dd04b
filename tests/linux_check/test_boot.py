#!/usr/bin/env python3
"""Boots the real arm64 kernel with tests/linux_check/stub_guest.c as /init and checks
that the gdb agent's walk reads the page states the stub made (64K mTHP blocks with CONT,
PROT_NONE, the zero page, uffd-wp markers, a PMD block, a fork child's copies).

Needs qemu-system-aarch64, gdb-multiarch, aarch64-linux-gnu-gcc and the kernel (Debian's,
downloaded once into the cache; or MMUSIM_LINUX_KERNEL=PATH of an Image). Skipped when a
tool is missing or the kernel cannot be had. Run: python3 tests/linux_check/test_boot.py
"""

import os
import shutil
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts", "linux_check"))
sys.path.insert(0, HERE)
import boot  # noqa: E402
import compare  # noqa: E402
import initramfs  # noqa: E402
import kernel as kernelmod  # noqa: E402
import pagetable as pt  # noqa: E402
import stub_states  # noqa: E402


class BootTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = boot.missing_tools()
        if missing:
            raise unittest.SkipTest("missing tools (Debian packages %s)" % " ".join(missing))
        t0 = time.monotonic()
        try:
            cls.kernel = kernelmod.get_kernel(os.environ.get("MMUSIM_LINUX_KERNEL"),
                                              log=lambda m: sys.stderr.write("kernel: %s\n" % m))
        except kernelmod.KernelError as e:
            raise unittest.SkipTest("no kernel: %s" % e)
        cls.t_kernel = time.monotonic() - t0
        cls.work = tempfile.mkdtemp(prefix="linux-check-boot-test-")
        guest = boot.build_guest(os.path.join(HERE, "stub_guest.c"), cache_dir=cls.work)
        plan = os.path.join(cls.work, "plan")
        with open(plan, "w") as f:
            f.write(stub_states.plan_text())
        cls.plan = compare.parse_plan(stub_states.plan_text())
        initrd = os.path.join(cls.work, "initramfs.cpio")
        initramfs.write(initrd, guest, plan)
        t0 = time.monotonic()
        cls.raw = boot.run_guest(cls.kernel.image, initrd, guest, cls.work, expected=cls.plan["stops"],
                                 timeout=60)
        cls.t_boot = time.monotonic() - t0
        cls.linux = compare.linux_states(cls.raw, cls.plan, pt.SwapTypes.from_config(cls.kernel.config()),
                                         cls.kernel.version)
        sys.stderr.write("\nkernel %s (%.1f s to get), boot and %d checkpoint stops %.1f s: %s\n" % (
            cls.kernel.version, cls.t_kernel, len(cls.raw["stops"]), cls.t_boot,
            ", ".join("cp %d/p %d %.2f s + walk %.2f s" % (c["index"], c["process"], c["wall"], c["walk"])
                      for c in cls.raw["timings"]["checkpoints"])))

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "work", None):
            shutil.rmtree(cls.work, ignore_errors=True)

    def states(self, index, process):
        for c in self.linux["checkpoints"]:
            if c["index"] == index:
                for p in c["processes"]:
                    if p["id"] == process:
                        return {int(s["va"], 16): s for s in p["pages"]}
        self.fail("no states for checkpoint %d process %d" % (index, process))

    def test_stops_and_status(self):
        self.assertEqual(self.raw["status"], 0)
        self.assertEqual([(s["index"], s["process"]) for s in self.raw["stops"]], [(0, 0), (1, 0), (1, 1)])
        parent, child = self.raw["stops"][1], self.raw["stops"][2]
        self.assertNotEqual(parent["cookie"], child["cookie"])
        self.assertNotEqual(parent["ttbr0"], child["ttbr0"])   # two address spaces were walked
        self.assertEqual(self.raw["stops"][0]["va_bits"], 48)
        self.assertEqual(self.raw["stops"][0]["start_level"], 0)

    def test_cont_on_the_64k_blocks(self):
        st = self.states(0, 0)
        for base in (stub_states.BASE, stub_states.BASE + 5 * stub_states.K64):
            for i in range(16):
                s = st[base + i * 0x1000]
                self.assertEqual((s["entry"], s["level"], s["cont"], s["write"], s["af"]),
                                 ("page", 3, True, "dirty", True), hex(base + i * 0x1000))
                self.assertEqual(s["folio"], {"size": 65536, "index": i})
        # the 16 descriptors of a block map 16 consecutive, 64K-aligned frames
        pfns = [(int(st[stub_states.BASE + i * 0x1000]["pte"], 16) >> 12) & ((1 << 36) - 1) for i in range(16)]
        self.assertEqual(pfns, list(range(pfns[0], pfns[0] + 16)))
        self.assertEqual(pfns[0] % 16, 0)
        self.assertEqual(sum(1 for s in st.values() if s.get("cont")), 32)

    def test_every_page_as_the_stub_made_it(self):
        for index, _, process in stub_states.STOPS:
            got = self.states(index, process)
            want = stub_states.expected(index, process)
            self.assertEqual(sorted(got), sorted(want))
            bad = [(hex(va), pt.short(got[va]), pt.short(want[va])) for va in sorted(want)
                   if compare.norm(got[va]) != compare.norm(want[va])]
            self.assertEqual(bad, [], "checkpoint %d process %d" % (index, process))

    def test_other_states(self):
        st = self.states(0, 0)
        pn = st[stub_states.BASE + stub_states.K64]
        self.assertTrue(pn["prot_none"])
        self.assertTrue(pn.get("present_invalid"))
        z = st[stub_states.BASE + 2 * stub_states.K64]
        self.assertEqual((z["zero"], z["folio"], z["special"], z["write"]), (True, None, True, "ro"))
        m = st[stub_states.BASE + 4 * stub_states.K64]
        self.assertEqual((m["entry"], m["marker"]), ("marker", ["uffd_wp"]))
        h = st[stub_states.HUGE + 0x5000]
        self.assertEqual((h["level"], h["folio"], h["cont"]), (2, {"size": 0x200000, "index": 5}, False))
        self.assertEqual(st[stub_states.BASE + 3 * stub_states.K64]["entry"], "none")

    def test_counters(self):
        c0 = self.linux["checkpoints"][0]
        self.assertEqual(c0["counters"]["faults"], stub_states.FAULTS)
        self.assertEqual(c0["counters"]["thp/64kB/anon_fault_alloc"], 3)

    def test_timing(self):
        self.assertLess(self.t_boot, 60)
        for c in self.raw["timings"]["checkpoints"]:
            self.assertLess(c["walk"], 5, c)
            self.assertLessEqual(c["tables_read"], 8, c)


if __name__ == "__main__":
    unittest.main()
