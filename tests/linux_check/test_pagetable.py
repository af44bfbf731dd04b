#!/usr/bin/env python3
"""Unit tests of scripts/linux_check/pagetable.py on hand-made tables in a fake physical
memory (a dict of 8-byte words). Run: python3 tests/linux_check/test_pagetable.py"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "linux_check"))
import pagetable as pt  # noqa: E402

TCR_48 = 16            # T0SZ=16 (48-bit VA), TG0=0 (4K)
TCR_39 = 25            # T0SZ=25 (39-bit VA): 3 levels from level 1
ROOT, L1, L2, L3 = 0x40001000, 0x40002000, 0x40003000, 0x40004000
VA = 0x0000123456789000
TABLE = 3


def idx(va, level):
    return (va >> (12 + 9 * (3 - level))) & 0x1ff


class Mem:
    """Physical memory: absent words read as 0; every read is counted."""

    def __init__(self):
        self.words = {}
        self.reads = 0

    def __setitem__(self, pa, v):
        assert pa % 8 == 0
        self.words[pa] = v

    def __call__(self, pa):
        self.reads += 1
        return self.words.get(pa, 0)

    def read_block(self, pa, n):
        return b"".join(self(pa + i).to_bytes(8, "little") for i in range(0, n, 8))


def four_levels(leaf, va=VA, leaf_level=3):
    m = Mem()
    m[ROOT + 8 * idx(va, 0)] = L1 | TABLE
    m[L1 + 8 * idx(va, 1)] = L2 | TABLE
    if leaf_level == 2:
        m[L2 + 8 * idx(va, 2)] = leaf
    else:
        m[L2 + 8 * idx(va, 2)] = L3 | TABLE
        m[L3 + 8 * idx(va, 3)] = leaf
    return m


# A user page as Linux 6.12 maps a dirty writable anonymous page: valid|page, USER, AF,
# nG, inner-shareable, DBM, PXN, UXN, PTE_DIRTY, normal memory (attr index 0), pfn 0x42db0.
USER_RW_DIRTY = 0x00E8000042DB0F43 & ~(1 << 52)   # without CONT
PFN_PA = 0x42DB0000


class WalkTest(unittest.TestCase):
    def regime(self, tcr=TCR_48, ttbr=ROOT):
        return pt.Regime(ttbr, tcr)

    def test_four_level_walk_to_a_page(self):
        m = four_levels(USER_RW_DIRTY)
        level, desc, pa = pt.walk(m, self.regime(), VA)
        self.assertEqual(level, 3)
        self.assertEqual(desc, USER_RW_DIRTY)
        self.assertEqual(pa, L3 + 8 * idx(VA, 3))
        self.assertEqual(m.reads, 4)
        self.assertEqual(pt.page_pa(self.regime(), level, desc, VA + 0x123), PFN_PA + 0x123)

    def test_ttbr_asid_and_cnp_are_masked(self):
        m = four_levels(USER_RW_DIRTY)
        r = self.regime(ttbr=(0xBEEF << 48) | ROOT | 1)
        self.assertEqual(r.root, ROOT)
        self.assertEqual(pt.walk(m, r, VA)[:2], (3, USER_RW_DIRTY))

    def test_start_level_from_t0sz(self):
        self.assertEqual(self.regime(TCR_48).start_level, 0)
        r = self.regime(TCR_39)
        self.assertEqual((r.start_level, r.va_bits), (1, 39))
        va = 0x0000004012345000
        m = Mem()
        m[ROOT + 8 * idx(va, 1)] = L2 | TABLE
        m[L2 + 8 * idx(va, 2)] = L3 | TABLE
        m[L3 + 8 * idx(va, 3)] = USER_RW_DIRTY
        self.assertEqual(pt.walk(m, r, va)[:2], (3, USER_RW_DIRTY))
        self.assertEqual(m.reads, 3)

    def test_a_block_at_level_2(self):
        block = (0x40200000 | 0x00E8000000000F41) & ~(1 << 52)
        va = VA & ~0x1FFFFF
        m = four_levels(block, va=va, leaf_level=2)
        r = self.regime()
        for off in (0, 0x1000, 0x1FF000):
            level, desc, _ = pt.walk(m, r, va + off)
            self.assertEqual((level, desc), (2, block))
            self.assertEqual(pt.page_pa(r, level, desc, va + off), 0x40200000 + off)
        st = pt.decode(block, 2)
        self.assertEqual((st["entry"], st["level"], st["write"], st["cont"]), ("page", 2, "dirty", False))

    def test_invalid_at_each_level(self):
        r = self.regime()
        full = four_levels(USER_RW_DIRTY)
        # empty the entry at each level in turn: the walk stops there with 0
        for level, table in ((0, ROOT), (1, L1), (2, L2), (3, L3)):
            m = Mem()
            m.words = dict(full.words)
            del m.words[table + 8 * idx(VA, level)]
            got = pt.walk(m, r, VA)
            self.assertEqual(got[:2], (level, 0), "level %d" % level)
            self.assertEqual(pt.decode(got[1], got[0]), {"entry": "none"})
            self.assertEqual(m.reads, level + 1)

    def test_a_non_present_entry_above_level_3_is_a_leaf(self):
        # a PMD migration entry: bit 0 clear, type in bits 6-10
        mig = (30 << 6) | (0x42 << 12)
        m = four_levels(mig, leaf_level=2)
        level, desc, _ = pt.walk(m, self.regime(), VA)
        self.assertEqual((level, desc), (2, mig))
        self.assertEqual(pt.decode(desc, level)["entry"], "migration")

    def test_va_outside_the_range(self):
        with self.assertRaises(pt.WalkError):
            pt.walk(Mem(), self.regime(TCR_39), 1 << 40)

    def test_unhandled_regimes(self):
        with self.assertRaises(pt.WalkError):
            pt.Regime(ROOT, TCR_48 | (1 << 14))     # 64K granule
        with self.assertRaises(pt.WalkError):
            pt.Regime(ROOT, TCR_48 | (1 << 7))      # EPD0

    def test_lpa2_output_address(self):
        r = pt.Regime(ROOT, 12 | pt.TCR_DS)          # 52-bit VA: 5 levels
        self.assertEqual(r.start_level, -1)
        desc = 0x40004000 | (0x2 << 8) | 3           # OA[51:50] in bits 9:8
        self.assertEqual(r.next_address(desc), 0x40004000 | (2 << 50))

    def test_table_cache_reads_each_table_once(self):
        m = four_levels(USER_RW_DIRTY)
        m[L3 + 8 * (idx(VA, 3) + 1)] = USER_RW_DIRTY + 0x1000
        cache = pt.TableCache(m.read_block)
        r = self.regime()
        self.assertEqual(pt.walk(cache, r, VA)[1], USER_RW_DIRTY)
        self.assertEqual(pt.walk(cache, r, VA + 0x1000)[1], USER_RW_DIRTY + 0x1000)
        self.assertEqual(pt.walk(cache, r, VA + 0x2000)[1], 0)
        self.assertEqual(cache.reads, 4)


class DecodeTest(unittest.TestCase):
    def test_each_field_on_and_off(self):
        base = pt.decode(USER_RW_DIRTY, 3)
        self.assertEqual(base, {"entry": "page", "level": 3, "prot_none": False, "write": "dirty",
                                "af": True, "exec": False, "special": False, "uffd_wp": False,
                                "cont": False, "sw_dirty": True, "user": True})
        flips = [
            (pt.PTE_AF, "af", False),
            (pt.PTE_UXN, "exec", True),
            (pt.PTE_SPECIAL, "special", True),
            (pt.PTE_UFFD_WP, "uffd_wp", True),
            (pt.PTE_CONT, "cont", True),
            (pt.PTE_DIRTY, "sw_dirty", False),
            (pt.PTE_USER, "user", False),
        ]
        for bit, field, want in flips:
            st = pt.decode(USER_RW_DIRTY ^ bit, 3)
            self.assertEqual(st[field], want, field)
            others = {k: v for k, v in st.items() if k != field}
            self.assertEqual(others, {k: v for k, v in base.items() if k != field}, field)

    def test_write_states(self):
        dbm, rdonly = pt.PTE_DBM, pt.PTE_RDONLY
        plain = USER_RW_DIRTY & ~(dbm | rdonly)
        self.assertEqual(pt.decode(plain | dbm, 3)["write"], "dirty")
        self.assertEqual(pt.decode(plain | dbm | rdonly, 3)["write"], "clean")
        self.assertEqual(pt.decode(plain | rdonly, 3)["write"], "ro")
        self.assertEqual(pt.decode(plain, 3)["write"], "ro")   # no DBM: never writable

    def test_prot_none(self):
        # PAGE_NONE: !VALID, PRESENT_INVALID (nG), RDONLY, PXN|UXN, no USER
        protnone = (PFN_PA | 0x0060000000000F82) & ~1
        st = pt.decode(protnone, 3)
        self.assertEqual((st["entry"], st["prot_none"], st["write"], st["af"], st["exec"]),
                         ("page", True, "ro", True, False))
        # present-invalid but user-accessible (pmd_mkinvalid of a user page): not PROT_NONE
        self.assertFalse(pt.decode(protnone | pt.PTE_USER, 3)["prot_none"])
        self.assertEqual(pt.decode(protnone | pt.PTE_USER, 3)["entry"], "page")
        # valid entries are never PROT_NONE, whatever nG says
        self.assertFalse(pt.decode(protnone | 1, 3)["prot_none"])
        # a PROT_NONE PMD block: bits 1:0 = 00
        blk = (0x40200000 | 0x0060000000000F80)
        st = pt.decode(blk, 2)
        self.assertEqual((st["entry"], st["level"], st["prot_none"]), ("page", 2, True))

    def test_swap_entries(self):
        def swp(t, off, extra=0):
            return (t << pt.SWP_TYPE_SHIFT) | (off << pt.SWP_OFFSET_SHIFT) | extra
        st = pt.decode(swp(0, 0x1234), 3)
        self.assertEqual((st["entry"], st["swap_type"], st["swap_offset"]), ("swap", 0, 0x1234))
        st = pt.decode(swp(1, 7, pt.PTE_SWP_EXCLUSIVE | pt.PTE_SWP_UFFD_WP), 3)
        self.assertEqual((st["entry"], st["swp_exclusive"], st["swp_uffd_wp"]), ("swap", True, True))
        self.assertEqual(pt.decode(swp(26, 5), 3)["entry"], "swap")   # the last swap file
        self.assertEqual(pt.decode(swp(27, 5), 3)["entry"], "hwpoison")
        for t, kind in ((28, "read"), (29, "read_exclusive"), (30, "write")):
            st = pt.decode(swp(t, 0x42DB0), 3)
            self.assertEqual((st["entry"], st["migration"]), ("migration", kind), t)
        st = pt.decode(swp(31, pt.PTE_MARKER_UFFD_WP), 3)
        self.assertEqual((st["entry"], st["marker"]), ("marker", ["uffd_wp"]))
        self.assertEqual(pt.decode(swp(31, pt.PTE_MARKER_GUARD), 3)["marker"], ["guard"])
        # the uffd-wp marker as Linux 6.12 writes it (seen in a real guest)
        self.assertEqual(pt.decode(0x17C0, 3)["entry"], "marker")

    def test_swap_types_follow_the_config(self):
        types = pt.SwapTypes.from_config({"CONFIG_DEVICE_PRIVATE": "y"})
        self.assertEqual(types.max_swapfiles, 23)
        self.assertEqual(types.hwpoison, 23)
        self.assertEqual(sorted(types.migration), [24, 25, 26])
        self.assertEqual(types.device, {27, 28, 29, 30})
        self.assertEqual(types.marker, 31)
        self.assertEqual(pt.decode(28 << 6, 3, types)["entry"], "device")
        self.assertEqual(pt.decode(25 << 6, 3, types)["entry"], "migration")
        none = pt.SwapTypes.from_config({"CONFIG_MEMORY_FAILURE": "n", "CONFIG_MIGRATION": "n"})
        self.assertEqual((none.max_swapfiles, none.hwpoison, none.migration, none.marker), (31, None, {}, 31))
        self.assertEqual(pt.decode(28 << 6, 3, none)["entry"], "swap")

    def test_real_descriptors(self):
        # read from Linux 6.12.95 in QEMU (neoverse-n1): a 64K mTHP page, PROT_NONE, the zero page
        self.assertEqual(pt.short(pt.page_state(3, 0xF8000042DB0F43, 0x400615828, 16, 3)),
                         "page L3 cont dirty af folio 64K/3")
        self.assertEqual(pt.short(pt.page_state(3, 0xE0000042DC0F82, 0x400615828, 16, 0)),
                         "page L3 protnone ro af folio 64K/0")
        self.assertEqual(pt.short(pt.page_state(3, 0x160000042C1FFC3, 0x101000000, 0, 0)),
                         "page L3 ro af special zero")
        self.assertEqual(pt.short(pt.page_state(2, 0xE8000040000F41, 0x400615828, 512, 7)),
                         "page L2 dirty af folio 2M/7")

    def test_page_state_zero_and_folio(self):
        st = pt.page_state(3, USER_RW_DIRTY, kpageflags=1 << pt.KPF_ZERO_PAGE, folio_pages=1)
        self.assertEqual((st["zero"], st["folio"]), (True, None))
        st = pt.page_state(3, USER_RW_DIRTY, kpageflags=1 << pt.KPF_COMPOUND_TAIL, folio_pages=16, folio_index=3)
        self.assertEqual((st["zero"], st["folio"]), (False, {"size": 65536, "index": 3}))
        st = pt.page_state(3, USER_RW_DIRTY, folio_pages=0)
        self.assertIsNone(st["folio"])
        self.assertNotIn("zero", pt.page_state(3, 0))

    def test_table_descriptor_is_not_a_leaf(self):
        with self.assertRaises(ValueError):
            pt.decode(L3 | TABLE, 2)

    def test_parse_kernel_config(self):
        cfg = pt.parse_kernel_config('CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C="x y"\n# comment\n')
        self.assertEqual(cfg, {"CONFIG_A": "y", "CONFIG_B": "n", "CONFIG_C": "x y"})


if __name__ == "__main__":
    unittest.main()
