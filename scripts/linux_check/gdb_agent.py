"""The gdb side of linux-check: runs inside `gdb-multiarch -nx -batch -x gdb_agent.py`.

It starts nothing. The driver has started QEMU stopped (-S) with its gdbstub on
127.0.0.1:PORT and passes a JSON file through the environment variable
MMUSIM_AGENT_CONFIG: {"guest": ELF, "port": PORT, "output": JSON path,
"connect_timeout": seconds}.

The agent loads the guest's symbols, connects, breaks at mmusim_checkpoint_hook and
mmusim_done_hook and continues. At each checkpoint stop it reads the struct mmusim_ckpt
x0 points to (virtual addresses: TTBR0 is the reporting process's), its pages, folios and
counters, reads TTBR0_EL1 and TCR_EL1, switches the stub to physical addresses
(Qqemu.PhyMemMode:1), walks the tables of every listed page (each 4 KiB table read once
per stop), switches back and continues. At mmusim_done_hook it reads the status and
stops. Progress goes to stdout as lines "MMUSIM-AGENT {json}" (the driver enforces the
timeouts on them); the collected states go to the output file, also after an error.
"""

import json
import os
import struct
import sys
import time

import gdb  # noqa: F401  (only inside gdb)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pagetable  # noqa: E402

MAGIC = 0x6B63706B63756D6D
CKPT_SIZE = 64
PAGE_REC = 24
FOLIO_REC = 16
COUNTER_REC = 64
MASK64 = (1 << 64) - 1
MAX_PAGES = 1 << 22


def event(kind, **kw):
    kw["event"] = kind
    sys.stdout.write("MMUSIM-AGENT " + json.dumps(kw) + "\n")
    sys.stdout.flush()


def reg(name):
    return int(gdb.parse_and_eval("$" + name)) & MASK64


def read(addr, n):
    inf = gdb.selected_inferior()
    out = bytearray()
    step = 1 << 16
    while len(out) < n:
        k = min(step, n - len(out))
        out += bytes(inf.read_memory(addr + len(out), k))
    return bytes(out)


def phys_mode(on):
    r = gdb.execute("maintenance packet Qqemu.PhyMemMode:%d" % (1 if on else 0), to_string=True)
    if '"OK"' not in r and "OK" not in r.split("received:")[-1]:
        raise RuntimeError("QEMU refused Qqemu.PhyMemMode:%d: %s" % (1 if on else 0, r.strip()))


def hx(v):
    return "0x%x" % v


def checkpoint(c):
    t0 = time.monotonic()
    hdr = read(c, CKPT_SIZE)
    magic, index, process, cookie, npages, pages, folios, ncounters, counters = \
        struct.unpack("<QIIQQQQQQ", hdr)
    if magic != MAGIC:
        raise RuntimeError("the struct at x0=0x%x has magic 0x%x, not 0x%x" % (c, magic, MAGIC))
    if npages > MAX_PAGES or ncounters > 4096:
        raise RuntimeError("checkpoint %d: implausible npages %d / ncounters %d" % (index, npages, ncounters))
    prec = read(pages, npages * PAGE_REC) if npages else b""
    frec = read(folios, npages * FOLIO_REC) if npages else b""
    crec = read(counters, ncounters * COUNTER_REC) if ncounters else b""
    ttbr0 = reg("TTBR0_EL1")
    tcr = reg("TCR_EL1")
    regime = pagetable.Regime(ttbr0, tcr)
    out_pages = []
    tables = pagetable.TableCache(read)
    phys_mode(True)
    try:
        for i in range(npages):
            va, pagemap, kpf = struct.unpack_from("<QQQ", prec, i * PAGE_REC)
            fpages, findex, head = struct.unpack_from("<IIQ", frec, i * FOLIO_REC)
            level, desc, _ = pagetable.walk(tables, regime, va)
            rec = {"va": hx(va), "level": level, "desc": hx(desc), "pagemap": hx(pagemap),
                   "kpageflags": hx(kpf), "folio": {"pages": fpages, "index": findex, "head_pfn": hx(head)}}
            out_pages.append(rec)
    finally:
        phys_mode(False)
    ctrs = {}
    for i in range(ncounters):
        raw = crec[i * COUNTER_REC:(i + 1) * COUNTER_REC]
        name = raw[:56].split(b"\0", 1)[0].decode(errors="replace")
        ctrs[name] = struct.unpack_from("<Q", raw, 56)[0]
    return {"index": index, "process": process, "cookie": cookie, "ttbr0": hx(ttbr0), "tcr": hx(tcr),
            "start_level": regime.start_level, "va_bits": regime.va_bits,
            "pages": out_pages, "counters": ctrs, "tables_read": tables.reads,
            "seconds": round(time.monotonic() - t0, 3)}


def main():
    cfg_path = os.environ.get("MMUSIM_AGENT_CONFIG")
    with open(cfg_path) as f:
        cfg = json.load(f)
    result = {"schema": "mmusim-linux-states/1", "stops": [], "status": None, "error": None}

    def save():
        tmp = cfg["output"] + ".tmp"
        with open(tmp, "w") as f:
            json.dump(result, f)
        os.replace(tmp, cfg["output"])

    try:
        for cmd in ("set pagination off", "set confirm off", "set width 0", "set stack-cache off",
                    "set code-cache off", "set print thread-events off"):
            gdb.execute(cmd)
        gdb.execute('file "%s"' % cfg["guest"].replace("\\", "\\\\").replace('"', '\\"'))
        ck = int(gdb.parse_and_eval("(unsigned long)&mmusim_checkpoint_hook"))
        done = int(gdb.parse_and_eval("(unsigned long)&mmusim_done_hook"))
        deadline = time.monotonic() + float(cfg.get("connect_timeout", 15))
        while True:
            try:
                gdb.execute("target remote 127.0.0.1:%d" % int(cfg["port"]), to_string=True)
                break
            except gdb.error as e:
                if time.monotonic() > deadline:
                    raise RuntimeError("could not connect to QEMU's gdbstub on port %s: %s" % (cfg["port"], e))
                time.sleep(0.1)
        gdb.execute("break *0x%x" % ck, to_string=True)
        gdb.execute("break *0x%x" % done, to_string=True)
        event("connected", checkpoint_hook=hx(ck), done_hook=hx(done))
        t_start = time.monotonic()
        while True:
            t_cont = time.monotonic()
            gdb.execute("continue", to_string=True)
            t_stop = time.monotonic()
            pc = reg("pc")
            if pc == ck:
                rec = checkpoint(reg("x0"))
                last = result["stops"][-1] if result["stops"] else None
                if last and (last["index"], last["process"], last["cookie"]) == \
                        (rec["index"], rec["process"], rec["cookie"]):
                    # The same call stopped again: an interrupt taken while gdb stepped over
                    # the breakpoint returns to it (seen under QEMU TCG). Each hook call has
                    # its own checkpoint and process.
                    event("repeated_stop", index=rec["index"], process=rec["process"])
                    continue
                rec["run_seconds"] = round(t_stop - t_cont, 3)
                result["stops"].append(rec)
                save()
                event("checkpoint", index=rec["index"], process=rec["process"], npages=len(rec["pages"]),
                      run_seconds=rec["run_seconds"], walk_seconds=rec["seconds"],
                      tables_read=rec["tables_read"])
            elif pc == done:
                result["status"] = reg("x0")
                result["seconds"] = round(t_stop - t_start, 3)
                save()
                event("done", status=result["status"], run_seconds=round(t_stop - t_cont, 3))
                break
            else:
                raise RuntimeError("the guest stopped at pc 0x%x, not at a hook" % pc)
    except Exception as e:  # noqa: BLE001 - every failure is reported to the driver
        msg = str(e).strip() or e.__class__.__name__
        result["error"] = msg
        save()
        event("error", message=msg)


main()
