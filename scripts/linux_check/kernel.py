"""The arm64 Linux kernel linux-check boots.

Debian's bookworm-backports ships `linux-image-<version>-arm64`; the metapackage
`linux-image-arm64` names the current one. Everything apt reads or writes lives in a
private state under the cache folder (its own lists, archives, sources and an empty dpkg
status), so the host's dpkg/apt state is never touched. The .deb is downloaded once; its
boot/vmlinuz-* (an uncompressed, or gzip'd, Image) and boot/config-* are kept in
  ${MMUSIM_CACHE:-${XDG_CACHE_HOME:-~/.cache}/mmusim}/linux-arm64/<package>_<version>/
and reused without network afterwards. The package lists are refreshed when older than a
day; when that fails (offline), the newest cached kernel is used.
The archive is the one the host's apt uses (or $MMUSIM_DEBIAN_MIRROR).
"""

import glob
import gzip
import json
import os
import re
import shutil
import subprocess
import tarfile
import time

SUITE = "bookworm-backports"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
METAPACKAGE = "linux-image-arm64"
LIST_MAX_AGE = 24 * 3600
REQUIRED_OPTIONS = ("CONFIG_ARM64_CONTPTE", "CONFIG_TRANSPARENT_HUGEPAGE")


class KernelError(Exception):
    pass


class Kernel:
    def __init__(self, image, version, config_path=None, package=None, source=""):
        self.image = image              # the Image file QEMU boots
        self.version = version          # "6.12.95+deb12-arm64" or "6.12.95"
        self.config_path = config_path  # the kernel's config, when known
        self.package = package          # "linux-image-..._6.12.95-1~bpo12+1", when from Debian
        self.source = source            # a few words on where it came from

    @property
    def major_minor(self):
        m = re.match(r"(\d+)\.(\d+)", self.version)
        if not m:
            raise KernelError("kernel version '%s' has no MAJOR.MINOR" % self.version)
        return "%s.%s" % (m.group(1), m.group(2))

    def config(self):
        if not self.config_path or not os.path.exists(self.config_path):
            return None
        from pagetable import parse_kernel_config
        with open(self.config_path, encoding="utf-8", errors="replace") as f:
            return parse_kernel_config(f.read())

    def check_config(self):
        """Problems with the kernel config (empty when fine or unknown)."""
        cfg = self.config()
        if cfg is None:
            return []
        return ["%s is not =y in %s" % (o, self.config_path) for o in REQUIRED_OPTIONS if cfg.get(o) != "y"]


def cache_root():
    base = os.environ.get("MMUSIM_CACHE")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "mmusim")
    return os.path.join(base, "linux-arm64")


def host_mirror(files=None):
    """The Debian archive URL the host's apt uses (the only archive this machine reaches),
    read from /etc/apt/sources.list and sources.list.d (one-line and deb822 forms);
    $MMUSIM_DEBIAN_MIRROR overrides it."""
    if os.environ.get("MMUSIM_DEBIAN_MIRROR"):
        return os.environ["MMUSIM_DEBIAN_MIRROR"].rstrip("/")
    if files is None:
        files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")) \
            + sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
    for path in files:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            urls = []
            if line.startswith("deb "):
                urls = [w for w in line.split() if "://" in w]
            elif line.startswith("URIs:"):
                urls = line.split()[1:]
            for url in urls:
                url = url.rstrip("/")
                if re.search(r"/debian$", url):
                    return url
    return DEFAULT_MIRROR


class PrivateApt:
    """apt-get/apt-cache over a state of their own in `root`, for arm64."""

    def __init__(self, root, mirror=None, log=None):
        self.root = root
        self.mirror = mirror or host_mirror()
        self.log = log or (lambda msg: None)
        self.conf = os.path.join(root, "apt.conf")

    def setup(self):
        r = self.root
        for d in ("state/lists/partial", "cache/archives/partial", "etc/apt.conf.d",
                  "etc/preferences.d", "etc/sources.list.d"):
            os.makedirs(os.path.join(r, d), exist_ok=True)
        status = os.path.join(r, "state/status")
        if not os.path.exists(status):
            open(status, "w").close()
        signed = " signed-by=%s" % KEYRING if os.path.exists(KEYRING) else ""
        with open(os.path.join(r, "etc/sources.list"), "w") as f:
            f.write("deb [arch=arm64%s] %s %s main\n" % (signed, self.mirror, SUITE))
        user = "root" if os.geteuid() == 0 else None
        lines = [
            'Dir::State "%s/state";' % r,
            'Dir::State::status "%s/state/status";' % r,
            'Dir::Cache "%s/cache";' % r,
            'Dir::Etc::sourcelist "%s/etc/sources.list";' % r,
            'Dir::Etc::sourceparts "%s/etc/sources.list.d";' % r,
            'Dir::Etc::parts "%s/etc/apt.conf.d";' % r,
            'Dir::Etc::preferences "%s/etc/preferences";' % r,
            'Dir::Etc::preferencesparts "%s/etc/preferences.d";' % r,
            'APT::Architecture "arm64";',
            'APT::Architectures { "arm64"; };',
            'APT::Install-Recommends "false";',
            'Acquire::Languages "none";',
            'Acquire::Retries "1";',
            'Acquire::http::Timeout "20";',
        ]
        if user is None:
            import pwd
            user = pwd.getpwuid(os.geteuid()).pw_name
        lines.append('APT::Sandbox::User "%s";' % user)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def run(self, args, cwd=None):
        env = dict(os.environ, APT_CONFIG=self.conf, LC_ALL="C")
        return subprocess.run(args, cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)

    def lists(self):
        return glob.glob(os.path.join(self.root, "state/lists/*_Packages*"))

    def lists_age(self):
        ls = self.lists()
        if not ls:
            return None
        return time.time() - min(os.path.getmtime(p) for p in ls)

    def update(self):
        """Refreshes the lists when missing or older than a day. Returns an error text
        when the refresh failed (the old lists, if any, stay usable)."""
        age = self.lists_age()
        if age is not None and age < LIST_MAX_AGE:
            return None
        self.log("fetching the Debian %s arm64 package lists into %s" % (SUITE, self.root))
        # --error-on=any: a list that could not be fetched is an error, not a warning
        r = self.run(["apt-get", "update", "-q", "--error-on=any"])
        if r.returncode != 0:
            return [l for l in (r.stderr or r.stdout).strip().splitlines() if l.startswith(("E:", "W:", "Err"))][-3:] \
                or (r.stderr or r.stdout).strip().splitlines()[-3:]
        # apt keeps the old file's mtime when the list did not change: mark it fresh
        for p in self.lists():
            os.utime(p)
        return None

    def show(self, package):
        r = self.run(["apt-cache", "show", "--no-all-versions", package])
        if r.returncode != 0 or not r.stdout.strip():
            return None
        fields = {}
        for line in r.stdout.splitlines():
            m = re.match(r"^([A-Za-z0-9-]+): ?(.*)$", line)
            if m:
                fields[m.group(1)] = m.group(2)
        return fields


def image_version(path):
    """The version in an Image's banner, "Linux version X.Y.Z..." (gzip'd Images too)."""
    with open(path, "rb") as f:
        head = f.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    pat = re.compile(rb"Linux version (\d+\.\d+(?:\.\d+)?[^\s\x00]*)")
    tail = b""
    with opener(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return None
            m = pat.search(tail + chunk)
            if m:
                return m.group(1).decode(errors="replace")
            tail = chunk[-256:]


def from_path(path):
    if not os.path.isfile(path):
        raise KernelError("--kernel %s: no such file" % path)
    version = image_version(path)
    if not version:
        raise KernelError("--kernel %s: no \"Linux version X.Y.Z\" banner in the file; "
                          "is it an arm64 Linux Image?" % path)
    cfg = None
    d = os.path.dirname(os.path.abspath(path))
    for cand in [os.path.join(d, "config-" + version), os.path.join(d, ".config"),
                 os.path.join(d, "config")]:
        if os.path.isfile(cand):
            cfg = cand
            break
    return Kernel(os.path.abspath(path), version, cfg, source="given with --kernel")


def _cached_kernels(root):
    out = []
    for meta in glob.glob(os.path.join(root, "*", "kernel.json")):
        try:
            with open(meta) as f:
                m = json.load(f)
            d = os.path.dirname(meta)
            img = os.path.join(d, m["image"])
            if os.path.isfile(img):
                out.append((os.path.getmtime(meta), Kernel(img, m["version"],
                                                           os.path.join(d, m["config"]) if m.get("config") else None,
                                                           m.get("package"), "cached in " + d)))
        except (OSError, ValueError, KeyError):
            continue
    out.sort(key=lambda t: t[0])
    return [k for _, k in out]


def _extract(deb, dest):
    """boot/vmlinuz-* and boot/config-* of a kernel .deb into dest (dpkg-deb's data tar,
    read as a stream: the modules are never written out)."""
    p = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    found = {}
    with tarfile.open(fileobj=p.stdout, mode="r|") as tf:
        for member in tf:
            name = member.name.lstrip("./")
            m = re.match(r"^boot/(vmlinuz|config)-(.+)$", name)
            if not m or not member.isfile():
                continue
            src = tf.extractfile(member)
            out = os.path.join(dest, os.path.basename(name))
            with open(out, "wb") as f:
                shutil.copyfileobj(src, f)
            found[m.group(1)] = (out, m.group(2))
    p.stdout.close()
    err = p.stderr.read().decode(errors="replace")
    if p.wait() != 0:
        raise KernelError("dpkg-deb --fsys-tarfile %s failed: %s" % (deb, err.strip()))
    if "vmlinuz" not in found:
        raise KernelError("%s has no boot/vmlinuz-*" % deb)
    return found


def _download_failed(what, detail):
    lines = detail if isinstance(detail, list) else [detail]
    return KernelError(
        "could not get the arm64 kernel from Debian %s: %s%s. linux-check downloads the "
        "package named by %s once through a private apt state under %s (the host's apt "
        "state is not touched) and needs the Debian archive for that first time. Without "
        "it, pass an arm64 Linux Image you have with --kernel PATH (a 6.10 or later kernel "
        "built with CONFIG_ARM64_CONTPTE=y and CONFIG_TRANSPARENT_HUGEPAGE=y; its version is "
        "read from the Image)." % (SUITE, what, (" (" + " / ".join(l.strip() for l in lines if l.strip()) + ")")
                                   if any(l.strip() for l in lines) else "", METAPACKAGE, cache_root()))


def debian_kernel(log=None):
    """The current bookworm-backports arm64 kernel, downloaded once into the cache."""
    log = log or (lambda msg: None)
    root = cache_root()
    os.makedirs(root, exist_ok=True)
    apt = PrivateApt(os.path.join(root, "apt"), log=log)
    apt.setup()
    err = apt.update()
    cached = _cached_kernels(root)
    if err is not None:
        if cached:
            log("apt-get update failed (offline?); using the cached kernel %s" % cached[-1].version)
            return cached[-1]
        if not apt.lists():
            raise _download_failed("apt-get update failed", err)
        log("apt-get update failed; using the package lists of %s" % time.ctime(
            time.time() - apt.lists_age()))
    meta = apt.show(METAPACKAGE)
    if not meta:
        if cached:
            return cached[-1]
        raise _download_failed("%s is not in the package lists" % METAPACKAGE, "")
    dep = meta.get("Depends", "").split(",")[0].strip()
    m = re.match(r"^(linux-image-[^\s(]+)", dep)
    if not m:
        raise _download_failed("%s %s does not depend on a linux-image package (Depends: %s)"
                               % (METAPACKAGE, meta.get("Version"), meta.get("Depends")), "")
    pkg = m.group(1)
    info = apt.show(pkg)
    if not info:
        raise _download_failed("%s (named by %s) is not in the package lists" % (pkg, METAPACKAGE), "")
    pkgver = "%s_%s" % (pkg, info["Version"])
    dest = os.path.join(root, pkgver.replace(":", "%3a"))
    for k in cached:
        if k.package == pkgver:
            return k
    archives = os.path.join(apt.root, "cache/archives")
    debs = glob.glob(os.path.join(archives, "%s_*.deb" % pkg))
    if not debs:
        log("downloading %s %s (%s MB)" % (pkg, info["Version"], int(info.get("Size", "0")) >> 20))
        r = apt.run(["apt-get", "download", "-q", "%s=%s" % (pkg, info["Version"])], cwd=archives)
        debs = glob.glob(os.path.join(archives, "%s_*.deb" % pkg))
        if r.returncode != 0 or not debs:
            if cached:
                log("apt-get download failed; using the cached kernel %s" % cached[-1].version)
                return cached[-1]
            raise _download_failed("apt-get download %s failed" % pkg,
                                   (r.stderr or r.stdout).strip().splitlines()[-3:])
    deb = sorted(debs)[-1]
    part = dest + ".part"
    shutil.rmtree(part, ignore_errors=True)
    os.makedirs(part)
    found = _extract(deb, part)
    img, version = found["vmlinuz"]
    with open(img, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    image_name = os.path.basename(img)
    if gz:
        # QEMU loads gzip'd arm64 Images, but a plain one is read faster and scanned simply
        image_name = "Image-" + version
        with gzip.open(img, "rb") as src, open(os.path.join(part, image_name), "wb") as dst:
            shutil.copyfileobj(src, dst)
    cfg = found.get("config", (None,))[0]
    meta_out = {"package": pkgver, "version": version, "image": image_name,
                "config": os.path.basename(cfg) if cfg else None, "deb": os.path.basename(deb)}
    with open(os.path.join(part, "kernel.json"), "w") as f:
        json.dump(meta_out, f, indent=1)
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(part, dest)
    os.remove(deb)  # 90 MB of modules: the two files kept are all linux-check needs
    return Kernel(os.path.join(dest, image_name), version,
                  os.path.join(dest, meta_out["config"]) if cfg else None, pkgver,
                  "Debian %s %s" % (SUITE, pkgver))


def get_kernel(path=None, log=None):
    if path:
        return from_path(path)
    return debian_kernel(log)
