"""The plan's structure, Linux's page states from the agent's raw stops, and their
comparison with the model's (mmusim run --checkpoints, schema mmusim-checkpoints/1)."""

import pagetable as pt

PAGE_FIELDS = ("level", "prot_none", "write", "af", "exec", "special", "uffd_wp", "cont", "zero", "folio")
BOOL_FIELDS = ("prot_none", "af", "exec", "special", "uffd_wp", "cont", "zero")
MAX_DIFFS = 8


class PlanError(Exception):
    pass


def num(tok):
    return int(tok, 0)


def parse_plan(text):
    """The parts of a guest plan (interface.md section 1) the host needs: regions,
    checkpoints, the stops they make (one per live process, in pid order), and the swap
    device (a line "swap zram SIZE": ("zram", SIZE); None without one)."""
    lines = [l.rstrip("\n") for l in text.splitlines() if l.strip()]
    if not lines or lines[0].split()[:1] != ["mmusim-guest-plan"]:
        raise PlanError("not a guest plan: the first line is not 'mmusim-guest-plan N'")
    regions, checkpoints, stops, sysfs = [], [], [], []
    swap = None
    numa = 0
    live = {0}
    ended = False
    for n, line in enumerate(lines[1:], 2):
        t = line.split(" ")
        try:
            if t[0] == "sysfs":
                sysfs.append((t[1], " ".join(t[2:])))
            elif t[0] == "swap":
                swap = (t[1], num(t[2]))
            elif t[0] == "region":
                regions.append((t[1], num(t[2]), num(t[3])))
            elif t[0] == "numa":
                numa = num(t[1])
            elif t[0] == "op":
                pid, name = num(t[1]), t[2]
                if name == "fork":
                    live.add(num(t[3]))
                elif name == "exit":
                    live.discard(pid)
            elif t[0] == "checkpoint":
                index, name = num(t[1]), " ".join(t[2:])
                checkpoints.append((index, name))
                stops.extend((index, name, p) for p in sorted(live))
            elif t[0] == "end":
                ended = True
                break
        except (IndexError, ValueError) as e:
            raise PlanError("plan line %d: %r: %s" % (n, line, e))
    if not ended:
        raise PlanError("the plan has no 'end' line")
    return {"regions": regions, "checkpoints": checkpoints, "stops": stops, "sysfs": sysfs, "swap": swap, "numa": numa}


def region_of(regions, va):
    for name, addr, size in regions:
        if addr <= va < addr + size:
            return name
    return None


def linux_states(raw, plan, types=pt.DEFAULT_SWAP_TYPES, kernel_version=None):
    """The agent's raw stops -> a document shaped like the model's (mmusim-checkpoints/1),
    each page with its decoded state plus the raw facts it came from."""
    names = {i: n for i, n in plan["checkpoints"]} if plan else {}
    regions = plan["regions"] if plan else []
    cps = {}
    order = []
    for stop in raw.get("stops", []):
        idx = stop["index"]
        if idx not in cps:
            cps[idx] = {"index": idx, "name": names.get(idx), "counters": stop.get("counters", {}),
                        "processes": []}
            order.append(idx)
        cp = cps[idx]
        if stop.get("counters", {}) != cp["counters"]:
            cp.setdefault("warnings", []).append(
                "process %d reported counters different from process %d's" % (stop["process"], cp["processes"][0]["id"]))
        pages = []
        for p in stop["pages"]:
            va = int(p["va"], 16)
            f = p.get("folio") or {}
            st = pt.page_state(p["level"], int(p["desc"], 16), int(p["kpageflags"], 16),
                               f.get("pages", 0), f.get("index", 0), types)
            rec = {"va": "0x%x" % va, "region": region_of(regions, va), "pte": p["desc"]}
            rec.update(st)
            rec["pagemap"] = p["pagemap"]
            rec["kpageflags"] = p["kpageflags"]
            pages.append(rec)
        cp["processes"].append({"id": stop["process"], "cookie": stop.get("cookie"), "pages": pages})
    return {"schema": "mmusim-linux-checkpoints/1", "kernel_version": kernel_version,
            "page_size": pt.PAGE_SIZE, "checkpoints": [cps[i] for i in order]}


def swap_warning(plan, linux):
    """A warning when the plan pages out (it has a swap line) and Linux wrote no page to swap
    by its last checkpoint (vmstat/pswpout, counted from the plan's start): the pageouts
    then met only folios that others map, or the swap device did not work."""
    if not plan.get("swap") or not linux.get("checkpoints"):
        return None
    if linux["checkpoints"][-1].get("counters", {}).get("vmstat/pswpout") != 0:
        return None
    return "the plan pages out, yet Linux wrote no page to swap (vmstat/pswpout is 0 at the last checkpoint)"


def norm(st):
    """The compared fields of a page state; booleans absent from a page count as false."""
    if st is None:
        return None
    e = st.get("entry")
    if e != "page":
        return {"entry": e}
    out = {"entry": "page"}
    for k in PAGE_FIELDS:
        v = st.get(k)
        if k in BOOL_FIELDS:
            v = bool(v)
        elif k == "folio":
            v = None if not v else {"size": v.get("size"), "index": v.get("index")}
        out[k] = v
    return out


CONT_PTES = 16  # PTEs of one contpte block with the 4K granule (64K)


def contpte_view(states):
    """{va: norm(state)} with the access and dirty state of each folded block read as the
    kernel reads it (contpte_ptep_get: young if any entry of the block is young, dirty if any
    is dirty). Hardware may set AF and dirty in any one descriptor of a contiguous range: a
    CPU caching the block as one TLB entry (as the model's does) updates the descriptor its
    walk used, QEMU (no contiguous TLB entries) the descriptor of each page it touches."""
    out = {va: norm(st) for va, st in states.items()}
    block = CONT_PTES * pt.PAGE_SIZE
    for start in sorted({va - va % block for va in out}):
        members = [out.get(start + i * pt.PAGE_SIZE) for i in range(CONT_PTES)]
        if not all(m is not None and m["entry"] == "page" and m["level"] == 3 and m["cont"] for m in members):
            continue
        young = any(m["af"] for m in members)
        dirty = any(m["write"] == "dirty" for m in members)
        for m in members:
            m["af"] = young
            if dirty and m["write"] == "clean":
                m["write"] = "dirty"
    return out


def _va(p):
    v = p.get("va")
    return int(v, 0) if isinstance(v, str) else int(v)


def thp_counters(ctrs, stat):
    """{size in bytes: value} of Linux's thp/<N>kB/<stat> counters."""
    out = {}
    for name, v in ctrs.items():
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == "thp" and parts[2] == stat and parts[1].endswith("kB"):
            try:
                out[int(parts[1][:-2]) * 1024] = int(v)
            except ValueError:
                pass
    return out


def compare_counters(linux, model):
    """[(name, linux value, model value, equal)]."""
    model = model or {}
    rows = []
    lf = linux.get("faults")
    rows.append(("faults", lf, model.get("faults"), lf is not None and lf == model.get("faults")))
    for stat in ("anon_fault_alloc", "anon_fault_fallback", "split"):
        lin = thp_counters(linux, stat)
        mv = model.get(stat, 0)
        if isinstance(mv, dict):
            sizes = sorted(set(lin) | {int(k) for k in mv})
            for s in sizes:
                a, b = lin.get(s, 0), int(mv.get(str(s), mv.get(s, 0)) or 0)
                rows.append(("%s[%d]" % (stat, s), a, b, a == b))
        else:
            a = sum(lin.values())
            b = int(mv or 0)
            rows.append((stat, a, b, a == b))
    return rows


def compare(linux, model, max_diffs=MAX_DIFFS):
    """Checkpoint by checkpoint, process by process, page by page (by va)."""
    mcps = {c["index"]: c for c in model.get("checkpoints", [])}
    lcps = {c["index"]: c for c in linux.get("checkpoints", [])}
    out = {"checkpoints": [], "equal": True}
    for idx in sorted(set(mcps) | set(lcps)):
        lc, mc = lcps.get(idx), mcps.get(idx)
        cres = {"index": idx, "name": (lc or {}).get("name") or (mc or {}).get("name"), "processes": []}
        if lc is None or mc is None:
            cres["missing"] = "linux" if lc is None else "model"
            out["equal"] = False
        rows = compare_counters((lc or {}).get("counters", {}), (mc or {}).get("counters", {}))
        cres["counters"] = [{"name": n, "linux": a, "model": b, "equal": e} for n, a, b, e in rows]
        cres["counters_equal"] = all(e for *_, e in rows) and lc is not None and mc is not None
        if not cres["counters_equal"]:
            out["equal"] = False
        lprocs = {p["id"]: p for p in (lc or {}).get("processes", [])}
        mprocs = {p["id"]: p for p in (mc or {}).get("processes", [])}
        for pid in sorted(set(lprocs) | set(mprocs)):
            lp, mp = lprocs.get(pid), mprocs.get(pid)
            lpages = {_va(p): p for p in (lp or {}).get("pages", [])}
            mpages = {_va(p): p for p in (mp or {}).get("pages", [])}
            vas = sorted(set(lpages) | set(mpages))
            lview, mview = contpte_view(lpages), contpte_view(mpages)
            equal = 0
            diffs = []
            ndiff = 0
            for va in vas:
                a, b = lpages.get(va), mpages.get(va)
                na, nb = lview.get(va), mview.get(va)
                if na is not None and na == nb:
                    equal += 1
                    continue
                ndiff += 1
                if len(diffs) < max_diffs:
                    fields = [] if na is None or nb is None else \
                        sorted(k for k in set(na) | set(nb) if na.get(k) != nb.get(k))
                    diffs.append({"va": "0x%x" % va, "region": (a or b).get("region"),
                                  "linux": a, "model": b, "fields": fields})
            pres = {"id": pid, "pages_compared": len(vas), "pages_equal": equal, "pages_differing": ndiff,
                    "diffs": diffs}
            if lp is None or mp is None:
                pres["missing"] = "linux" if lp is None else "model"
            if ndiff or lp is None or mp is None:
                out["equal"] = False
            cres["processes"].append(pres)
        out["checkpoints"].append(cres)
    return out


def strip_state(st):
    """A page state as the JSON output shows it in diffs (no raw facts)."""
    if st is None:
        return None
    keep = ("va", "region", "pte", "entry") + PAGE_FIELDS
    return {k: st[k] for k in keep if k in st}


def format_text(result, indent="  "):
    lines = []
    for c in result["checkpoints"]:
        head = "%scheckpoint %d%s:" % (indent, c["index"], (' "%s"' % c["name"]) if c.get("name") else "")
        if c.get("missing"):
            head += " MISSING in the %s's states" % c["missing"]
        bad = [r for r in c["counters"] if not r["equal"]]
        head += " counters equal" if not bad else " counters DIFFER"
        lines.append(head)
        for r in bad:
            lines.append("%s%scounter %s: linux %s | model %s" % (indent, indent, r["name"], r["linux"], r["model"]))
        for p in c["processes"]:
            s = "%s%sprocess %d: pages compared %d, pages equal %d" % (
                indent, indent, p["id"], p["pages_compared"], p["pages_equal"])
            if p.get("missing"):
                s += " (no states from the %s)" % p["missing"]
            lines.append(s)
            for d in p["diffs"]:
                lines.append("%s%s%s%s %-6s linux: %s | model: %s%s" % (
                    indent, indent, indent, d["va"], d.get("region") or "-", pt.short(d["linux"]),
                    pt.short(d["model"]), ("  [%s]" % ", ".join(d["fields"])) if d["fields"] else ""))
            more = p["pages_differing"] - len(p["diffs"])
            if more > 0:
                lines.append("%s%s%s... and %d more differing pages" % (indent, indent, indent, more))
    return lines
