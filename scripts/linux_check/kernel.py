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

The guest also needs a few of the package's modules (GUEST_MODULES: zram, for plans that page
out to swap), with the modules they depend on. They are kept decompressed (Python's lzma reads
the .ko.xz) in the same folder, under modules/, listed in load order in kernel.json; the other
4000-odd modules are never written out. The package has no modules.dep (Debian's postinst runs
depmod): a module's dependencies are the "depends=" field of its .modinfo section. A kernel
cached before modules were kept gets them on first need, from the same package downloaded again.
"""

import glob
import gzip
import json
import lzma
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
# The modules a plan may need, by the option that builds them: zram, for a plan's swap line.
GUEST_MODULES = {"zram": "CONFIG_ZRAM"}


class KernelError(Exception):
    pass


class Kernel:
    def __init__(self, image, version, config_path=None, package=None, source="", modules=None, cache_dir=None):
        self.image = image              # the Image file QEMU boots
        self.version = version          # "6.12.95+deb12-arm64" or "6.12.95"
        self.config_path = config_path  # the kernel's config, when known
        self.package = package          # "linux-image-..._6.12.95-1~bpo12+1", when from Debian
        self.source = source            # a few words on where it came from
        # {module name: [its .ko files, dependencies first]} of GUEST_MODULES, paths absolute;
        # None when this kernel's modules were never extracted (or it has none: --kernel)
        self.modules = modules
        self.cache_dir = cache_dir      # the cache folder of a Debian kernel

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

    def guest_modules(self, names, log=None):
        """The .ko files the guest loads, in order, for the modules `names` (keys of
        GUEST_MODULES): none for one built in (CONFIG_X=y). Raises KernelError when a module
        is needed and linux-check has no file for it. With no config (a --kernel Image
        without one) nothing is known: [] for the guest to find out."""
        cfg = self.config()
        out = []
        for name in names:
            option = GUEST_MODULES.get(name)
            if option is None:
                raise KernelError("linux-check knows no module %s (only %s)" % (name, ", ".join(GUEST_MODULES)))
            value = cfg.get(option, "n") if cfg is not None else None
            if value == "y":
                continue
            if value not in ("m", None):
                raise KernelError("the kernel %s has no %s driver (%s is not set in %s)" % (
                    self.version, name, option, self.config_path))
            if self.modules is None and self.package and self.cache_dir:
                self.modules = debian_modules(self, log)
            files = (self.modules or {}).get(name)
            if files is None:
                if value is None:
                    continue
                raise KernelError("the kernel %s (%s) has %s=m, and linux-check has no modules for it: it takes "
                                  "modules from the Debian package it downloads, not from beside an Image given "
                                  "with --kernel. Build that kernel with %s=y, or leave --kernel out" % (
                                      self.version, self.source, option, option))
            out += [f for f in files if f not in out]
        return out

    def check_config(self):
        """Problems with the kernel config (empty when fine or unknown)."""
        cfg = self.config()
        if cfg is None:
            return []
        return ["%s is not =y in %s" % (o, self.config_path) for o in REQUIRED_OPTIONS if cfg.get(o) != "y"]


def mmusim_cache():
    """The project's cache folder: $MMUSIM_CACHE, else $XDG_CACHE_HOME/mmusim or ~/.cache/mmusim."""
    base = os.environ.get("MMUSIM_CACHE")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "mmusim")
    return base


def cache_root():
    return os.path.join(mmusim_cache(), "linux-arm64")


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


def _modules_of(d, m):
    """The modules recorded in a cached kernel's kernel.json, with absolute paths (None when
    its modules were never extracted, or not those of GUEST_MODULES)."""
    mods = m.get("modules")
    if not isinstance(mods, dict) or any(n not in mods for n in GUEST_MODULES):
        return None
    out = {n: [os.path.join(d, "modules", f) for f in files] for n, files in mods.items()}
    if not all(os.path.isfile(f) for files in out.values() for f in files):
        return None
    return out


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
                                                           m.get("package"), "cached in " + d,
                                                           modules=_modules_of(d, m), cache_dir=d)))
        except (OSError, ValueError, KeyError):
            continue
    out.sort(key=lambda t: t[0])
    return [k for _, k in out]


MODULE_RE = re.compile(r"^(?:usr/)?lib/modules/[^/]+/(?:.+/)?([^/]+)\.ko(\.xz|\.gz|\.zst)?$")


def module_name(filename):
    """A module's name from its file name: "lz4hc-compress.ko.xz" -> "lz4hc_compress"."""
    return filename.split(".ko")[0].replace("-", "_")


def decompress_module(data, suffix):
    if suffix == ".xz":
        return lzma.decompress(data)
    if suffix == ".gz":
        return gzip.decompress(data)
    if suffix == ".zst":
        raise KernelError("the package's modules are zstd-compressed, which Python cannot read without a "
                          "package of its own")
    return data


def modinfo(ko):
    """The .modinfo section of a module (an ELF64 little-endian relocatable file):
    [(key, value)] in order."""
    import struct
    if ko[:4] != b"\x7fELF" or ko[4] != 2 or ko[5] != 1:
        raise KernelError("not a 64-bit little-endian ELF module")
    shoff, = struct.unpack_from("<Q", ko, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ko, 0x3A)

    def section(i):
        name, _type, _flags, _addr, off, size = struct.unpack_from("<IIQQQQ", ko, shoff + i * shentsize)
        return name, off, size

    _, stroff, _ = section(shstrndx)
    for i in range(shnum):
        name, off, size = section(i)
        end = ko.index(b"\0", stroff + name)
        if ko[stroff + name:end] == b".modinfo":
            out = []
            for item in ko[off:off + size].split(b"\0"):
                if b"=" in item:
                    k, v = item.split(b"=", 1)
                    out.append((k.decode(errors="replace"), v.decode(errors="replace")))
            return out
    return []


def module_load_order(names, blobs):
    """{name: [module names, dependencies first, the module last]} for names, from blobs
    {module name: (file suffix, bytes)}; also returns {module name: decompressed .ko}."""
    kos = {}
    orders = {}

    def ko_of(name, needed_by):
        if name not in kos:
            if name not in blobs:
                raise KernelError("the package has no module %s%s" % (
                    name, " (needed by %s)" % needed_by if needed_by else ""))
            suffix, data = blobs[name]
            kos[name] = decompress_module(data, suffix)
        return kos[name]

    for top in names:
        order, seen = [], set()

        def visit(name, needed_by, path):
            if name in seen:
                return
            if name in path:
                raise KernelError("modules %s depend on each other" % " -> ".join(path + [name]))
            info = modinfo(ko_of(name, needed_by))
            deps = [d for v in (v for k, v in info if k == "depends") for d in v.split(",") if d]
            for d in deps:
                visit(module_name(d), name, path + [name])
            seen.add(name)
            order.append(name)

        visit(top, None, [])
        orders[top] = order
    return orders, kos


def _extract(deb, dest, boot=True, modules=()):
    """From a kernel .deb into dest: boot/vmlinuz-* and boot/config-* (when boot), and the
    modules named (with what they depend on) as dest/modules/NAME.ko, decompressed. dpkg-deb's
    data tar is read as a stream; the other modules are never written out. Returns
    {"vmlinuz": (path, version), "config": (path, version), "modules": {name: [NAME.ko...]}}."""
    p = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    found = {}
    blobs = {}
    with tarfile.open(fileobj=p.stdout, mode="r|") as tf:
        for member in tf:
            if not member.isfile():
                continue
            name = member.name.lstrip("./")
            m = re.match(r"^boot/(vmlinuz|config)-(.+)$", name)
            if m and boot:
                src = tf.extractfile(member)
                out = os.path.join(dest, os.path.basename(name))
                with open(out, "wb") as f:
                    shutil.copyfileobj(src, f)
                found[m.group(1)] = (out, m.group(2))
                continue
            m = MODULE_RE.match(name)
            if m and modules:
                # every module is kept in memory (compressed) until the dependencies are known
                blobs[module_name(m.group(1))] = (m.group(2) or "", tf.extractfile(member).read())
    p.stdout.close()
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if p.wait() != 0:
        raise KernelError("dpkg-deb --fsys-tarfile %s failed: %s" % (deb, err.strip()))
    if boot and "vmlinuz" not in found:
        raise KernelError("%s has no boot/vmlinuz-*" % deb)
    if modules:
        orders, kos = module_load_order(modules, blobs)
        mdir = os.path.join(dest, "modules")
        os.makedirs(mdir, exist_ok=True)
        for name in sorted({n for order in orders.values() for n in order}):
            with open(os.path.join(mdir, name + ".ko"), "wb") as f:
                f.write(kos[name])
        found["modules"] = {top: [n + ".ko" for n in order] for top, order in orders.items()}
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
    try:
        deb = _download(apt, pkg, info, log)
    except KernelError as e:
        if cached:
            log("%s; using the cached kernel %s" % (e.args[0], cached[-1].version))
            return cached[-1]
        raise _download_failed(e.args[0], e.args[1] if len(e.args) > 1 else "")
    part = dest + ".part"
    shutil.rmtree(part, ignore_errors=True)
    os.makedirs(part)
    t0 = time.monotonic()
    found = _extract(deb, part, modules=tuple(GUEST_MODULES))
    log("extracted the kernel and the modules %s in %.1f s" % (
        ", ".join(sorted({f for fs in found["modules"].values() for f in fs})), time.monotonic() - t0))
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
                "config": os.path.basename(cfg) if cfg else None, "deb": os.path.basename(deb),
                "modules": found["modules"]}
    with open(os.path.join(part, "kernel.json"), "w") as f:
        json.dump(meta_out, f, indent=1)
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(part, dest)
    os.remove(deb)  # 90 MB of modules: the files kept are all linux-check needs
    return Kernel(os.path.join(dest, image_name), version,
                  os.path.join(dest, meta_out["config"]) if cfg else None, pkgver,
                  "Debian %s %s" % (SUITE, pkgver), modules=_modules_of(dest, meta_out), cache_dir=dest)


def _download(apt, pkg, info, log):
    """The package's .deb in the private apt's archives (downloaded unless already there).
    Raises KernelError(message, apt's last lines)."""
    archives = os.path.join(apt.root, "cache/archives")
    debs = glob.glob(os.path.join(archives, "%s_%s_*.deb" % (pkg, info["Version"].replace(":", "%3a"))))
    if not debs:
        size = int(info.get("Size", "0")) >> 20
        log("downloading %s %s%s" % (pkg, info["Version"], " (%d MB)" % size if size else ""))
        r = apt.run(["apt-get", "download", "-q", "%s=%s" % (pkg, info["Version"])], cwd=archives)
        debs = glob.glob(os.path.join(archives, "%s_*.deb" % pkg))
        if r.returncode != 0 or not debs:
            raise KernelError("apt-get download %s failed" % pkg, (r.stderr or r.stdout).strip().splitlines()[-3:])
    return sorted(debs)[-1]


def debian_modules(kern, log=None):
    """The GUEST_MODULES of a Debian kernel cached before linux-check kept modules: its package
    is downloaded again (the same version), the modules are extracted into its cache folder
    and recorded in its kernel.json."""
    log = log or (lambda msg: None)
    pkg, _, version = kern.package.partition("_")
    d = kern.cache_dir
    apt = PrivateApt(os.path.join(cache_root(), "apt"), log=log)
    apt.setup()
    try:
        deb = _download(apt, pkg, {"Version": version}, log)
    except KernelError as e:
        detail = " / ".join(l.strip() for l in (e.args[1] if len(e.args) > 1 else []) if l.strip())
        raise KernelError("the modules %s of the cached kernel %s are not in %s, and %s%s; a plan that needs "
                          "them needs the Debian archive once more" % (
                              ", ".join(GUEST_MODULES), kern.version, d, e.args[0], " (%s)" % detail if detail else ""))
    t0 = time.monotonic()
    found = _extract(deb, d, boot=False, modules=tuple(GUEST_MODULES))
    log("extracted the modules %s in %.1f s" % (
        ", ".join(sorted({f for fs in found["modules"].values() for f in fs})), time.monotonic() - t0))
    meta_path = os.path.join(d, "kernel.json")
    with open(meta_path) as f:
        meta = json.load(f)
    meta["modules"] = found["modules"]
    with open(meta_path + ".tmp", "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(meta_path + ".tmp", meta_path)
    os.remove(deb)
    return _modules_of(d, meta)


def get_kernel(path=None, log=None):
    if path:
        return from_path(path)
    return debian_kernel(log)
