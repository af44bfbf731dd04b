#!/usr/bin/env python3
"""A stand-in for build/mmusim's two linux-check subcommands, for the driver's test.

  fake_mmusim.py guest-plan CONFIG -o PLAN
  fake_mmusim.py run CONFIG --set kernel.version=X --checkpoints MODEL --out DIR

CONFIG is a JSON file {"fake": {"plan": TEXT, "model": DOC, "refuse": MESSAGE}}: guest-plan
writes "plan" (or fails with "refuse" as mmusim would), run writes "model" with the
kernel version asked for. Each call is appended to CONFIG + ".calls" for the test to read.
"""
import json
import sys


def main(argv):
    if len(argv) < 2:
        print("usage: fake_mmusim.py guest-plan|run CONFIG ...", file=sys.stderr)
        return 2
    cmd, cfg = argv[0], argv[1]
    with open(cfg) as f:
        fake = json.load(f)["fake"]
    with open(cfg + ".calls", "a") as f:
        f.write(json.dumps(argv) + "\n")
    rest = argv[2:]

    def opt(name):
        return rest[rest.index(name) + 1]

    if cmd == "guest-plan":
        if fake.get("refuse"):
            print("mmusim: error: %s" % fake["refuse"], file=sys.stderr)
            return 1
        with open(opt("-o"), "w") as f:
            f.write(fake["plan"])
        return 0
    if cmd == "run":
        doc = dict(fake["model"])
        for s in [rest[i + 1] for i, a in enumerate(rest) if a == "--set"]:
            k, v = s.split("=", 1)
            if k == "kernel.version":
                doc["kernel_version"] = v
        with open(opt("--checkpoints"), "w") as f:
            json.dump(doc, f)
        return 0
    print("fake_mmusim.py: unknown command %s" % cmd, file=sys.stderr)
    return 2


sys.exit(main(sys.argv[1:]))
