/* A small stand-in for scripts/linux_check/guest.c, for the host side's boot test: a static
 * aarch64 /init that ignores /plan, makes a few page states whose tables it knows, reports
 * them at two checkpoints through mmusim_checkpoint_hook and ends with mmusim_done_hook.
 *
 * Regions (all in one 4 MiB mapping at 0x10000000, 64K mTHP "always", PMD THP "never"):
 *   0x10000000 +64K  stores to all 16 pages      -> one 64K folio, cont, dirty
 *   0x10010000 +64K  stores, then PROT_NONE      -> prot_none
 *   0x10020000 +64K  loads only                  -> the zero page, ro, no folio
 *   0x10030000 +64K  untouched                   -> none
 *   0x10040000 +64K  uffd-wp (WP_UNPOPULATED)    -> markers
 *   0x10050000 +64K  one store at its 5th page   -> cont on all 16, folio index i
 * A second mapping at 0x10400000 (2 MiB, MADV_HUGEPAGE with PMD THP "madvise") gets one
 * store: a PMD block, level 2, on every page.
 * Checkpoint 0 is taken after all that; then the PROT_NONE block is unmapped, the process
 * forks and checkpoint 1 is reported by both processes (parent first); the child exits
 * after it. The counters are "faults" (of the steps above, reported again at checkpoint 1)
 * and a made-up "thp/64kB/anon_fault_alloc" of 3.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct mmusim_page {
    uint64_t va;
    uint64_t pagemap;
    uint64_t kpageflags;
};
struct mmusim_folio {
    uint32_t pages;
    uint32_t index;
    uint64_t head_pfn;
};
struct mmusim_counter {
    char name[56];
    uint64_t value;
};
struct mmusim_ckpt {
    uint64_t magic;
    uint32_t index;
    uint32_t process;
    uint64_t cookie;
    uint64_t npages;
    uint64_t pages;
    uint64_t folios;
    uint64_t ncounters;
    uint64_t counters;
};

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13) /* Linux 6.4; Debian 12's headers are 6.1 */
#endif

#define MAGIC 0x6b63706b63756d6dULL
#define BASE 0x10000000UL
#define SIZE 0x400000UL
#define HUGE 0x10400000UL
#define HUGE_SIZE 0x200000UL
#define NPAGES ((SIZE + HUGE_SIZE) / 4096)
#define KPF_HEAD 15
#define KPF_TAIL 16

static struct mmusim_page pages[NPAGES];
static struct mmusim_folio folios[NPAGES];
static struct mmusim_counter counters[4];

__attribute__((noinline, used)) void mmusim_checkpoint_hook(const volatile struct mmusim_ckpt *c)
{
    __asm__ volatile("" : : "r"(c) : "memory");
}

__attribute__((noinline, used)) void mmusim_done_hook(uint64_t status)
{
    __asm__ volatile("" : : "r"(status) : "memory");
}

static void die(const char *what)
{
    fprintf(stderr, "mmusim-guest: error: %s: %s\n", what, strerror(errno));
    mmusim_done_hook(1);
    reboot(RB_POWER_OFF);
    _exit(1);
}

static void put(const char *path, const char *value)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0 || write(fd, value, strlen(value)) < 0)
        die(path);
    close(fd);
}

static uint64_t pread64_at(int fd, uint64_t off)
{
    uint64_t v = 0;
    if (pread(fd, &v, 8, (off_t)off) != 8)
        return 0;
    return v;
}

static uint64_t faults_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_minflt + ru.ru_majflt);
}

static void fill(uint64_t base, uint64_t size, uint64_t *n, int pm, int kf)
{
    uint64_t last_head = 0, last_end = 0; /* the last compound folio's pfn range */
    for (uint64_t va = base; va < base + size; va += 4096) {
        struct mmusim_page *p = &pages[*n];
        struct mmusim_folio *f = &folios[*n];
        p->va = va;
        p->pagemap = pread64_at(pm, va / 4096 * 8);
        p->kpageflags = 0;
        f->pages = f->index = 0;
        f->head_pfn = 0;
        if (p->pagemap >> 63) {
            uint64_t pfn = p->pagemap & ((1ULL << 55) - 1);
            uint64_t fl = pread64_at(kf, pfn * 8);
            p->kpageflags = fl;
            if (fl & (1ULL << 24)) {
                /* the zero page: no folio */
            } else if (fl & ((1ULL << KPF_HEAD) | (1ULL << KPF_TAIL))) {
                if (!(pfn >= last_head && pfn < last_end)) {
                    last_head = pfn;
                    while (last_head > 0 && (pread64_at(kf, last_head * 8) & (1ULL << KPF_TAIL)))
                        last_head--;
                    last_end = last_head + 1;
                    while (pread64_at(kf, last_end * 8) & (1ULL << KPF_TAIL))
                        last_end++;
                }
                f->pages = (uint32_t)(last_end - last_head);
                f->index = (uint32_t)(pfn - last_head);
                f->head_pfn = last_head;
            } else {
                f->pages = 1;
                f->head_pfn = pfn;
            }
        }
        (*n)++;
    }
}

static void checkpoint(uint32_t index, uint32_t process, uint64_t faults)
{
    int pm = open("/proc/self/pagemap", O_RDONLY);
    int kf = open("/proc/kpageflags", O_RDONLY);
    if (pm < 0 || kf < 0)
        die("open pagemap/kpageflags");
    uint64_t n = 0;
    fill(BASE, SIZE, &n, pm, kf);
    fill(HUGE, HUGE_SIZE, &n, pm, kf);
    close(pm);
    close(kf);
    memset(counters, 0, sizeof counters);
    strcpy(counters[0].name, "faults");
    counters[0].value = faults;
    strcpy(counters[1].name, "thp/64kB/anon_fault_alloc");
    counters[1].value = 3;
    struct mmusim_ckpt c = {
        .magic = MAGIC, .index = index, .process = process, .cookie = (uint64_t)getpid(),
        .npages = n, .pages = (uint64_t)(uintptr_t)pages, .folios = (uint64_t)(uintptr_t)folios,
        .ncounters = 2, .counters = (uint64_t)(uintptr_t)counters,
    };
    mmusim_checkpoint_hook(&c);
}

int main(void)
{
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    put("/sys/kernel/mm/transparent_hugepage/enabled", "madvise\n");
    put("/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled", "always\n");
    put("/sys/kernel/mm/transparent_hugepage/use_zero_page", "1\n");
    put("/sys/kernel/mm/transparent_hugepage/khugepaged/defrag", "0\n");

    volatile char *m = mmap((void *)BASE, SIZE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (m == MAP_FAILED)
        die("mmap");
    volatile char *h = mmap((void *)HUGE, HUGE_SIZE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (h == MAP_FAILED)
        die("mmap huge");
    if (madvise((void *)HUGE, HUGE_SIZE, MADV_HUGEPAGE))
        die("madvise");
    uint64_t f0 = faults_now();

    for (int i = 0; i < 16; i++)
        m[0x00000 + i * 4096] = 1;
    for (int i = 0; i < 16; i++)
        m[0x10000 + i * 4096] = 1;
    if (mprotect((void *)(BASE + 0x10000), 0x10000, PROT_NONE))
        die("mprotect");
    for (int i = 0; i < 16; i++)
        (void)m[0x20000 + i * 4096];

    int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (uffd < 0)
        die("userfaultfd");
    struct uffdio_api api = { .api = UFFD_API,
                              .features = UFFD_FEATURE_WP_UNPOPULATED };
    if (ioctl(uffd, UFFDIO_API, &api))
        die("UFFDIO_API");
    struct uffdio_register reg = { .range = { .start = BASE + 0x40000, .len = 0x10000 },
                                   .mode = UFFDIO_REGISTER_MODE_WP };
    if (ioctl(uffd, UFFDIO_REGISTER, &reg))
        die("UFFDIO_REGISTER");
    struct uffdio_writeprotect wp = { .range = { .start = BASE + 0x40000, .len = 0x10000 },
                                      .mode = UFFDIO_WRITEPROTECT_MODE_WP };
    if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
        die("UFFDIO_WRITEPROTECT");

    m[0x50000 + 4 * 4096] = 1;
    h[0] = 1;

    uint64_t faults = faults_now() - f0;
    checkpoint(0, 0, faults);

    /* Linux 6.12 copies a PROT_NONE contpte block into a fork child as valid, cont,
     * kernel-only ptes (pte_mkcont sets PTE_TYPE_PAGE): left out here, the test is about
     * the host side, not about that. */
    if (munmap((void *)(BASE + 0x10000), 0x10000))
        die("munmap");

    /* checkpoint 1: the parent reports first, then the child (pid order) */
    int go[2];
    if (pipe(go))
        die("pipe");
    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        char b;
        close(go[1]);
        if (read(go[0], &b, 1) != 1)
            _exit(2);
        checkpoint(1, 1, faults);
        _exit(0);
    }
    close(go[0]);
    checkpoint(1, 0, faults);
    if (write(go[1], "g", 1) != 1)
        die("write");
    int st;
    waitpid(child, &st, 0);
    mmusim_done_hook(0);
    sync();
    reboot(RB_POWER_OFF);
    return 0;
}
