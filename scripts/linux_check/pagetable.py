"""arm64 page-table walk and Linux descriptor decoding, as pure functions.

Everything here works over a callable `read64(pa) -> int` that returns the 8-byte
little-endian word at physical address `pa`, so it can be tested on hand-made tables.

The leaf layout decoded is the one of Linux 6.10 and later on arm64
(arch/arm64/include/asm/pgtable-prot.h, arch/arm64/include/asm/pgtable.h):
  bit 0  PTE_VALID            bit 1  table / page (level 3) descriptor
  bit 6  PTE_USER (AP[1])     bit 7  PTE_RDONLY (AP[2])
  bit 10 PTE_AF               bit 11 PTE_NG; when !PTE_VALID: PTE_PRESENT_INVALID
  bit 51 PTE_DBM = PTE_WRITE  bit 52 PTE_CONT      bit 53 PTE_PXN   bit 54 PTE_UXN
  bit 55 PTE_DIRTY (software) bit 56 PTE_SPECIAL   bit 58 PTE_UFFD_WP
A non-present non-zero entry is a swap entry: bit 2 exclusive, bit 3 uffd-wp,
bits 6-10 the swap type, bits 12-61 the offset. The types at the top of the 5-bit space
are reserved (include/linux/swap.h): hardware poison, three migration types, the device
types when CONFIG_DEVICE_PRIVATE, and the PTE marker last.
"""

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT

PTE_VALID = 1 << 0
PTE_TABLE_BIT = 1 << 1
PTE_USER = 1 << 6
PTE_RDONLY = 1 << 7
PTE_AF = 1 << 10
PTE_NG = 1 << 11
PTE_PRESENT_INVALID = PTE_NG
PTE_DBM = 1 << 51
PTE_WRITE = PTE_DBM
PTE_CONT = 1 << 52
PTE_PXN = 1 << 53
PTE_UXN = 1 << 54
PTE_DIRTY = 1 << 55
PTE_SPECIAL = 1 << 56
PTE_UFFD_WP = 1 << 58

PTE_SWP_EXCLUSIVE = 1 << 2
PTE_SWP_UFFD_WP = 1 << 3
SWP_TYPE_SHIFT = 6
SWP_TYPE_BITS = 5
SWP_OFFSET_SHIFT = 12
SWP_OFFSET_BITS = 50

PTE_MARKER_UFFD_WP = 1 << 0
PTE_MARKER_POISONED = 1 << 1
PTE_MARKER_GUARD = 1 << 2

KPF_COMPOUND_HEAD = 15
KPF_COMPOUND_TAIL = 16
KPF_THP = 22
KPF_ZERO_PAGE = 24

PAGEMAP_PRESENT = 1 << 63
PAGEMAP_SWAP = 1 << 62
PAGEMAP_PFN_MASK = (1 << 55) - 1

TCR_EPD0 = 1 << 7
TCR_DS = 1 << 59

MASK64 = (1 << 64) - 1


class WalkError(Exception):
    """The translation regime is one this walker does not handle."""


class SwapTypes:
    """The reserved swap types of a kernel configuration (include/linux/swap.h, 6.2 and later)."""

    def __init__(self, device_private=False, migration=True, memory_failure=True, pte_marker=True):
        device_num = 4 if device_private else 0
        migration_num = 3 if migration else 0
        hwpoison_num = 1 if memory_failure else 0
        marker_num = 1 if pte_marker else 0
        self.max_swapfiles = (1 << SWP_TYPE_BITS) - device_num - migration_num - hwpoison_num - marker_num
        base = self.max_swapfiles
        self.hwpoison = base if memory_failure else None
        base += hwpoison_num
        self.migration = {base: "read", base + 1: "read_exclusive", base + 2: "write"} if migration else {}
        base += migration_num
        self.device = set(range(base, base + device_num))
        base += device_num
        self.marker = base if pte_marker else None

    @classmethod
    def from_config(cls, config):
        """From a kernel config: a dict of CONFIG_* name -> value ('y', 'm', ...) or None.
        Options absent from the dict take the values of Debian's arm64 kernels."""
        if not config:
            return cls()

        def on(name, default):
            if name not in config:
                return default
            return config[name] in ("y", "m")

        # CONFIG_PTE_MARKER disappeared in 6.8 (markers always built); it is only off when a
        # config says so explicitly.
        return cls(device_private=on("CONFIG_DEVICE_PRIVATE", False),
                   migration=on("CONFIG_MIGRATION", True),
                   memory_failure=on("CONFIG_MEMORY_FAILURE", True),
                   pte_marker=on("CONFIG_PTE_MARKER", True))


DEFAULT_SWAP_TYPES = SwapTypes()


def parse_kernel_config(text):
    """CONFIG_X=v lines -> {"CONFIG_X": "v"}; '# CONFIG_X is not set' -> {"CONFIG_X": "n"}."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("# CONFIG_") and line.endswith(" is not set"):
            out[line[2:-len(" is not set")]] = "n"
        elif line.startswith("CONFIG_") and "=" in line:
            k, v = line.split("=", 1)
            if len(v) >= 2 and v[0] == v[-1] == '"':
                v = v[1:-1]
            out[k] = v
    return out


class Regime:
    """The stage-1 EL1&0 regime of TTBR0 as TCR_EL1 sets it up (4K granule only)."""

    def __init__(self, ttbr0, tcr):
        ttbr0 &= MASK64
        tcr &= MASK64
        self.ttbr0 = ttbr0
        self.tcr = tcr
        tg0 = (tcr >> 14) & 3
        if tg0 != 0:
            raise WalkError("TCR_EL1.TG0=%d: only the 4K granule is handled" % tg0)
        if tcr & TCR_EPD0:
            raise WalkError("TCR_EL1.EPD0 is set: TTBR0 walks are disabled")
        t0sz = tcr & 0x3f
        self.ds = bool(tcr & TCR_DS)
        self.va_bits = 64 - t0sz
        if not 16 <= self.va_bits <= (52 if self.ds else 48):
            raise WalkError("TCR_EL1.T0SZ=%d (a %d-bit input range) is out of range" % (t0sz, self.va_bits))
        levels = -(-(self.va_bits - PAGE_SHIFT) // 9)   # each level resolves 9 bits
        self.start_level = 4 - levels
        # TTBR0 BADDR: bits 47:1 (ASID in 63:48, CnP bit 0); with 52-bit output addresses
        # (DS) bits 5:2 hold PA 51:48 and the table is 64-byte aligned.
        baddr = ttbr0 & ((1 << 48) - 1) & ~1
        if self.ds:
            baddr = (baddr & ~0x3f) | (((ttbr0 >> 2) & 0xf) << 48)
        self.root = baddr & ~(PAGE_SIZE - 1) if self.start_level >= 0 else baddr & ~0x1f

    def next_address(self, desc):
        """The output address in a table, block or page descriptor."""
        if self.ds:
            return (desc & ((1 << 50) - 1) & ~(PAGE_SIZE - 1)) | (((desc >> 8) & 3) << 50)
        return desc & ((1 << 48) - 1) & ~(PAGE_SIZE - 1)

    def index(self, va, level):
        shift = PAGE_SHIFT + 9 * (3 - level)
        bits = 9
        if level == self.start_level:
            bits = self.va_bits - shift
        return (va >> shift) & ((1 << bits) - 1)


def level_size(level):
    return 1 << (PAGE_SHIFT + 9 * (3 - level))


def walk(read64, regime, va):
    """Walks va from TTBR0. Returns (level, descriptor, descriptor_pa):
    - the leaf: a level 3 page descriptor, or a level 1/2 block descriptor;
    - or the first non-table entry met above level 3 (0 for an empty entry, or a
      non-present entry: a PMD migration entry, a present-invalid PMD);
    - or the level 3 entry whatever it is (0 when empty)."""
    if va >> regime.va_bits:
        raise WalkError("va 0x%x is outside the %d-bit TTBR0 range" % (va, regime.va_bits))
    table = regime.root
    level = regime.start_level
    while True:
        pa = table + 8 * regime.index(va, level)
        desc = read64(pa) & MASK64
        if level == 3:
            return level, desc, pa
        if desc & 3 == 3:
            table = regime.next_address(desc)
            level += 1
            continue
        return level, desc, pa


def swap_fields(desc, types=DEFAULT_SWAP_TYPES):
    swp_type = (desc >> SWP_TYPE_SHIFT) & ((1 << SWP_TYPE_BITS) - 1)
    offset = (desc >> SWP_OFFSET_SHIFT) & ((1 << SWP_OFFSET_BITS) - 1)
    return swp_type, offset


def decode(desc, level, types=DEFAULT_SWAP_TYPES):
    """A leaf (or the entry a walk stopped at) -> the page state of interface.md section 3,
    without `zero` and `folio` (those come from kpageflags and the guest's folio report).
    Fields beyond the interface's (sw_dirty, user, swap_type, ...) are details for the
    reader; the comparison does not read them."""
    desc &= MASK64
    if desc == 0:
        return {"entry": "none"}
    valid = bool(desc & PTE_VALID)
    present_invalid = not valid and bool(desc & PTE_PRESENT_INVALID)
    if valid and level < 3 and desc & PTE_TABLE_BIT:
        # A table descriptor is not a leaf: walk() never returns one above level 3.
        raise ValueError("a table descriptor at level %d is not a leaf" % level)
    if valid or present_invalid:
        dbm = bool(desc & PTE_DBM)
        rdonly = bool(desc & PTE_RDONLY)
        write = "ro" if not dbm else ("clean" if rdonly else "dirty")
        st = {
            "entry": "page",
            "level": level,
            # pte_protnone(): present-invalid, neither user-accessible nor user-executable
            "prot_none": present_invalid and not (desc & PTE_USER) and bool(desc & PTE_UXN),
            "write": write,
            "af": bool(desc & PTE_AF),
            "exec": not (desc & PTE_UXN),
            "special": bool(desc & PTE_SPECIAL),
            "uffd_wp": bool(desc & PTE_UFFD_WP),
            "cont": bool(desc & PTE_CONT),
            "sw_dirty": bool(desc & PTE_DIRTY),
            "user": bool(desc & PTE_USER),
        }
        if present_invalid:
            st["present_invalid"] = True
        return st
    swp_type, offset = swap_fields(desc, types)
    st = {"swap_type": swp_type, "swap_offset": offset}
    if types.marker is not None and swp_type == types.marker:
        st["entry"] = "marker"
        names = []
        if offset & PTE_MARKER_UFFD_WP:
            names.append("uffd_wp")
        if offset & PTE_MARKER_POISONED:
            names.append("poisoned")
        if offset & PTE_MARKER_GUARD:
            names.append("guard")
        st["marker"] = names
    elif swp_type in types.migration:
        st["entry"] = "migration"
        st["migration"] = types.migration[swp_type]
    elif types.hwpoison is not None and swp_type == types.hwpoison:
        st["entry"] = "hwpoison"
    elif swp_type in types.device:
        st["entry"] = "device"
    else:
        st["entry"] = "swap"
    st["level"] = level
    st["swp_exclusive"] = bool(desc & PTE_SWP_EXCLUSIVE)
    st["swp_uffd_wp"] = bool(desc & PTE_SWP_UFFD_WP)
    return st


def page_state(level, desc, kpageflags=0, folio_pages=0, folio_index=0, types=DEFAULT_SWAP_TYPES):
    """decode() plus `zero` and `folio` for a present page: `zero` from KPF_ZERO_PAGE
    (the zero page or the huge zero folio; then folio is null), `folio` from the guest's
    report (pages of the folio and the page's index in it; pages 0: none)."""
    st = decode(desc, level, types)
    if st["entry"] != "page":
        return st
    zero = bool((kpageflags >> KPF_ZERO_PAGE) & 1)
    st["zero"] = zero
    if zero or folio_pages == 0:
        st["folio"] = None
    else:
        st["folio"] = {"size": folio_pages * PAGE_SIZE, "index": folio_index}
    return st


def page_pa(regime, level, desc, va):
    """The physical address va maps to, for a present leaf."""
    return regime.next_address(desc) & ~(level_size(level) - 1) | (va & (level_size(level) - 1))


class TableCache:
    """read64 over a function that reads whole 4 KiB tables, each read once."""

    def __init__(self, read_block):
        self.read_block = read_block
        self.tables = {}
        self.reads = 0

    def __call__(self, pa):
        base = pa & ~(PAGE_SIZE - 1)
        data = self.tables.get(base)
        if data is None:
            data = bytes(self.read_block(base, PAGE_SIZE))
            self.reads += 1
            self.tables[base] = data
        off = pa - base
        return int.from_bytes(data[off:off + 8], "little")


def short(st):
    """A compact one-line form of a page state, for diffs."""
    if st is None:
        return "missing"
    e = st.get("entry")
    if e != "page":
        extra = ""
        if e == "marker" and st.get("marker"):
            extra = " " + "+".join(st["marker"])
        if e == "migration" and st.get("migration"):
            extra = " " + st["migration"]
        return "%s%s" % (e, extra)
    parts = ["page", "L%s" % st.get("level", "?")]
    if st.get("prot_none"):
        parts.append("protnone")
    if st.get("cont"):
        parts.append("cont")
    parts.append(st.get("write", "?"))
    if st.get("af"):
        parts.append("af")
    if st.get("exec"):
        parts.append("x")
    if st.get("special"):
        parts.append("special")
    if st.get("uffd_wp"):
        parts.append("uffd_wp")
    if st.get("zero"):
        parts.append("zero")
    f = st.get("folio")
    if f:
        parts.append("folio %s/%d" % (size_name(f.get("size", 0)), f.get("index", 0)))
    return " ".join(parts)


def size_name(n):
    for unit, div in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= div and n % div == 0:
            return "%d%s" % (n // div, unit)
    return str(n)
