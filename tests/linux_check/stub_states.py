"""What tests/linux_check/stub_guest.c leaves in Linux's page tables (6.12, 64K mTHP,
4K pages, hardware AF and dirty), as page states of interface.md section 3: the boot
test asserts them and the driver test gives them to the driver as the model's."""

BASE = 0x10000000
SIZE = 0x400000
HUGE = 0x10400000
HUGE_SIZE = 0x200000
K64 = 0x10000

REGIONS = [("heap", BASE, SIZE), ("huge", HUGE, HUGE_SIZE)]
CHECKPOINTS = [(0, "after-faults"), (1, "after-fork")]
STOPS = [(0, "after-faults", 0), (1, "after-fork", 0), (1, "after-fork", 1)]


def page(level=3, write="dirty", af=True, cont=False, prot_none=False, special=False, zero=False,
         folio=None):
    return {"entry": "page", "level": level, "prot_none": prot_none, "write": write, "af": af,
            "exec": False, "special": special, "uffd_wp": False, "cont": cont, "zero": zero,
            "folio": folio}


def expected(index, process):
    """{va: state} of every page of the stub's regions at a stop."""
    out = {}
    for name, base, size in REGIONS:
        for va in range(base, base + size, 0x1000):
            out[va] = {"entry": "none"}
    after_fork = index == 1
    child = process == 1
    ro = "ro" if after_fork else "dirty"
    af = not child
    for i in range(16):
        f = {"size": K64, "index": i}
        out[BASE + i * 0x1000] = page(write=ro, af=af, cont=True, folio=f)
        if not after_fork:
            out[BASE + K64 + i * 0x1000] = page(write="ro", prot_none=True, folio=f)
        out[BASE + 2 * K64 + i * 0x1000] = page(write="ro", af=af, special=True, zero=True)
        if not child:
            out[BASE + 4 * K64 + i * 0x1000] = {"entry": "marker"}
        out[BASE + 5 * K64 + i * 0x1000] = page(write=ro, af=af, cont=True, folio=f)
    for i in range(512):
        out[HUGE + i * 0x1000] = page(level=2, write=ro, af=af, folio={"size": 0x200000, "index": i})
    return out


FAULTS = 20   # 1 per 64K folio (3), 16 zero-page read faults, 1 PMD THP


def plan_text():
    lines = ["mmusim-guest-plan 1"]
    lines += ["region %s 0x%x 0x%x" % r for r in REGIONS]
    lines += ["op 0 mmap 0x%x 0x%x rw private" % (BASE, SIZE), "checkpoint 0 after-faults",
              "op 0 fork 1", "checkpoint 1 after-fork", "op 1 exit", "end"]
    return "\n".join(lines) + "\n"


def model_doc(kernel_version="6.12"):
    """A model document (mmusim-checkpoints/1) equal to what the stub makes."""
    cps = []
    for index, name in CHECKPOINTS:
        procs = []
        for pid in ((0,) if index == 0 else (0, 1)):
            pages = []
            for va, st in sorted(expected(index, pid).items()):
                rec = {"va": "0x%x" % va, "region": "heap" if va < HUGE else "huge", "pte": "0x0"}
                rec.update(st)
                pages.append(rec)
            procs.append({"id": pid, "name": "main" if pid == 0 else "child", "pages": pages})
        cps.append({"index": index, "name": name, "origin": "stub",
                    "counters": {"faults": FAULTS, "anon_fault_alloc": {"65536": 3}, "anon_fault_fallback": 0,
                                 "split": 0},
                    "processes": procs})
    return {"schema": "mmusim-checkpoints/1", "kernel_version": kernel_version, "page_size": 4096,
            "checkpoints": cps}
