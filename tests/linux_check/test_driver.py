#!/usr/bin/env python3
"""Runs scripts/linux-check end to end with the stub guest (tests/linux_check/stub_guest.c)
and a stand-in mmusim (fake_mmusim.py) whose model states are hand-made: a config whose
model is what Linux does, one with a page and a counter changed, one mmusim refuses, and a
timeout. Boots the real kernel three times (see test_boot.py for what is needed).
Run: python3 tests/linux_check/test_driver.py
"""

import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "scripts", "linux_check"))
sys.path.insert(0, HERE)
import boot  # noqa: E402
import kernel as kernelmod  # noqa: E402
import stub_states  # noqa: E402

DRIVER = os.path.join(REPO, "scripts", "linux-check")
FAKE = os.path.join(HERE, "fake_mmusim.py")
STUB = os.path.join(HERE, "stub_guest.c")


class DriverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = boot.missing_tools()
        if missing:
            raise unittest.SkipTest("missing tools (Debian packages %s)" % " ".join(missing))
        try:
            cls.kernel = kernelmod.get_kernel(os.environ.get("MMUSIM_LINUX_KERNEL"))
        except kernelmod.KernelError as e:
            raise unittest.SkipTest("no kernel: %s" % e)
        cls.dir = tempfile.mkdtemp(prefix="linux-check-driver-test-")
        model = stub_states.model_doc()
        cls.equal = cls.config("equal", {"plan": stub_states.plan_text(), "model": model})
        differ = copy.deepcopy(model)
        pages = differ["checkpoints"][0]["processes"][0]["pages"]
        p = next(p for p in pages if p["va"] == "0x10004000")
        p["cont"] = False
        differ["checkpoints"][0]["counters"]["faults"] = 19
        differ["checkpoints"][1]["counters"]["anon_fault_alloc"] = {"65536": 3, "2097152": 1}
        cls.differ = cls.config("differ", {"plan": stub_states.plan_text(), "model": differ})
        cls.refuse = cls.config("refuse", {"refuse": "workload.script.ops[2]: op 'frobnicate' has no guest form"})

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "dir", None):
            shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def config(cls, name, fake):
        path = os.path.join(cls.dir, name + ".json")
        with open(path, "w") as f:
            json.dump({"fake": fake}, f)
        return path

    def run_driver(self, *args):
        env = dict(os.environ)
        if os.environ.get("MMUSIM_LINUX_KERNEL"):
            args = ("--kernel", os.environ["MMUSIM_LINUX_KERNEL"]) + args
        return subprocess.run([DRIVER, "--mmusim", FAKE, "--guest-source", STUB] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, timeout=300)

    def test_text_report(self):
        keep = os.path.join(self.dir, "keep")
        r = self.run_driver("--keep", keep, self.equal, self.differ, self.refuse)
        out = r.stdout
        self.assertEqual(r.returncode, 1, out + r.stderr)
        self.assertIn("linux-check: kernel %s" % self.kernel.version, out.splitlines()[0])
        self.assertRegex(out, r"equal\.json: EQUAL")
        self.assertRegex(out, r"differ\.json: DIFFERS")
        self.assertIn("process 0: pages compared 1536, pages equal 1536", out)
        self.assertIn("process 0: pages compared 1536, pages equal 1535", out)
        self.assertIn("0x10004000 heap   linux: page L3 cont dirty af folio 64K/4 | "
                      "model: page L3 dirty af folio 64K/4  [cont]", out)
        self.assertIn("counter faults: linux 20 | model 19", out)
        self.assertIn("counter anon_fault_alloc[2097152]: linux 0 | model 1", out)
        self.assertRegex(out, r"refuse\.json: FAILED TO RUN: mmusim guest-plan failed \(exit 1\).*\n"
                              r".*op 'frobnicate' has no guest form")
        self.assertIn("linux-check: 3 config(s): 1 equal, 1 differ, 1 failed to run", out)
        # the work files are kept, and mmusim ran the booted kernel's version
        for f in ("plan", "initramfs.cpio", "console.log", "linux.json", "model.json"):
            self.assertTrue(os.path.exists(os.path.join(keep, "equal", f)), f)
        with open(self.equal + ".calls") as f:
            calls = [json.loads(l) for l in f]
        run = next(c for c in calls if c[0] == "run")
        self.assertIn("kernel.version=%s" % self.kernel.major_minor, run)
        with open(os.path.join(keep, "equal", "linux.json")) as f:
            linux = json.load(f)
        self.assertEqual([c["index"] for c in linux["checkpoints"]], [0, 1])

    def test_json_and_exit_status(self):
        r = self.run_driver("--json", self.equal)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        doc = json.loads(r.stdout)
        self.assertTrue(doc["equal"])
        self.assertEqual(doc["kernel"]["version"], self.kernel.version)
        c = doc["configs"][0]
        self.assertEqual(c["status"], "equal")
        self.assertEqual([(x["index"], [p["id"] for p in x["processes"]]) for x in c["comparison"]["checkpoints"]],
                         [(0, [0]), (1, [0, 1])])
        self.assertTrue(all(x["counters_equal"] for x in c["comparison"]["checkpoints"]))

    def test_timeout_names_the_checkpoint_and_keeps_the_console(self):
        r = self.run_driver("--timeout", "2", self.equal)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn('timeout: checkpoint 0 "after-faults" (process 0) was not reached within 2 s', r.stdout)
        log = r.stdout.split("Console log: ")[1].split()[0]
        self.assertTrue(os.path.isfile(log), log)
        with open(log, errors="replace") as f:
            self.assertIn("Booting Linux", f.read())
        os.remove(log)


if __name__ == "__main__":
    unittest.main()
