/*
 * guest.c: the guest program of scripts/linux-check.
 *
 * It is /init of a tiny initramfs booted by an arm64 Linux under QEMU. It reads /plan (written
 * by `mmusim guest-plan`), performs the plan with real system calls and memory accesses, and at
 * every checkpoint each live process fills a struct mmusim_ckpt and calls
 * mmusim_checkpoint_hook(), where the host's gdb stops, reads the struct (x0) and walks that
 * process's page tables. At the end the first process calls mmusim_done_hook(0) and powers the
 * machine off; a fatal error writes "mmusim-guest: error: ..." on the console, calls
 * mmusim_done_hook(1) and powers off. The plan format and the struct are the contract of
 * linux-check's interface.md (section 1: the plan, section 2: checkpoints).
 *
 * Build (as scripts/linux-check does):
 *   aarch64-linux-gnu-gcc -static -no-pie -O2 -Wall -Wextra -Werror -o init guest.c
 * Test run on a host (not PID 1):  ./guest [--sysfs] PLAN
 *   reads PLAN, mounts nothing, writes the sysfs lines only with --sysfs, prints every
 *   checkpoint on stdout ("ckpt INDEX PID npages=N faults=F", one line per page
 *   "VA PAGEMAP KPAGEFLAGS FOLIO_PAGES FOLIO_INDEX", and the first process's
 *   "counter NAME VALUE" lines) and exits with 0 (the plan ran) or 1 (an error).
 *   Ifetch accesses exist only on aarch64; elsewhere a plan with one is refused.
 *
 * How it runs the plan:
 * - Steps. The program lines become a list of steps, each owned by one plan process: an op or
 *   run line; a new child's start (after its fork line); an exit and the reaping of that
 *   process by its parent (or by process 0 when the parent is gone; process 0 is PID 1 or a
 *   child subreaper); per checkpoint, every live process publishing its fault count, then every
 *   live process reporting, in pid order. A baton in a MAP_SHARED page (a futex holding the
 *   number of the step that may run) makes exactly one process run at a time; the others
 *   sleep in the futex and touch nothing.
 * - The guest's own memory takes no fault during the plan. Before the plan, every mapping of
 *   the guest (code, data, heap, a 512 KiB stack area, buffers sized from the plan, the
 *   signal stack, the monitor thread's stack, the shared page) is marked MADV_NOHUGEPAGE (so
 *   the plan's THP settings and counters never involve it), populated and locked with mlock()
 *   of each of its ranges in /proc/self/maps (what mlockall(MCL_CURRENT) locks; the plan's own
 *   mappings come later and stay unlocked). A fork makes the guest's pages copy-on-write in
 *   both processes and the child inherits no lock, so right after a fork the parent and then
 *   the child mlock those ranges again (and write each page of the shared page): that takes
 *   the copy-on-write and population faults at once, in a window whose faults are counted as
 *   the guest's own (see counters).
 * - Counters. "faults" is the sum over all plan processes (exited ones included) of their
 *   getrusage minor + major faults since the plan started, less the guest's own faults in the
 *   fork windows above (and the first pthread_create of a monitor thread). "vmstat/pgfault"
 *   has the same guest faults taken off, so it counts the plan's faults too. The other THP
 *   counters are plain deltas since the plan started (gauges such as nr_anon can go below
 *   their start: the delta is then the 64-bit two's complement of a negative number). The
 *   first reporter of a checkpoint reads them once into the shared page, and every process's
 *   ckpt.counters points there.
 * - Userfaultfd: one per process, made at its first uffd_register (blocking reads), with a
 *   monitor thread on a stack prepared before the plan, answering missing faults with
 *   UFFDIO_COPY of a zero page and write-protect faults with UFFDIO_WRITEPROTECT mode 0.
 *   A forked child has no userfaultfd (no UFFD_FEATURE_EVENT_FORK): it closes the inherited
 *   descriptor.
 * - Stores write the byte 0x01, not zero: since v6.12 splitting a large anonymous folio maps
 *   its zero-filled pages to the shared zero page (remap_page with RMP_USE_SHARED_ZEROPAGE),
 *   which a program's real data never is.
 * - Ifetch: `blr` to the address. Every byte in plan memory is 0x00 or 0x01, so every word
 *   has its bits 31:25 clear: UDF #imm or an unallocated encoding in the reserved space, both
 *   UNDEFINED. The SIGILL handler (on a locked sigaltstack) sets the pc to x30, so execution
 *   goes on after the branch.
 * - Migrate (op migrate ADDR LEN, in plans with a "numa N" line: linux-check then boots N NUMA
 *   nodes, the CPU on node 0, with numa_balancing=disable, whose hinting faults would change
 *   entries behind the plan's back): move_pages(2) (raw system call) first asks where each page
 *   of the range is (nodes NULL), then moves every page that maps a folio to the other node
 *   with MPOL_MF_MOVE. As the model's migration does, it moves the whole folio of each page
 *   (a large folio partly in the range too; one that is partially mapped is split first and
 *   its mapped pages move), leaves the zero page and absent pages alone, and skips a folio
 *   that another process maps too (EACCES, folio_likely_mapped_shared). The guest's own
 *   memory and the plan's first-touch folios come from node 0 (local allocation:
 *   the guest checks it runs on node 0, and warns when a page of its own memory is elsewhere);
 *   the buffers move_pages reads and writes are made and locked before the plan, so the op
 *   takes no fault. A page that is not on its target node afterwards is noted as "op N
 *   failed".
 * - Reclaim (op reclaim ADDR LEN): the model's reclaim aging (folio_referenced clearing the
 *   access flags of the calling process's entries) as madvise(MADV_COLD), since Debian's kernel
 *   has no idle page tracking. In 6.12 madvise_cold_or_pageout_pte_range (pageout false)
 *   clears the access flag of the range's entries with clear_young_dirty_ptes(CYDP_CLEAR_YOUNG)
 *   (a whole contpte block on arm64) and of a PMD leaf with pmdp_invalidate + pmd_mkold, and
 *   also deactivates the folios (LRU state, not compared). Where the two differ:
 *   MADV_COLD skips a folio that more than one process maps (folio_mapcount !=
 *   folio_nr_pages, folio_likely_mapped_shared) and splits a large folio the range (clipped to
 *   each VMA) covers only partly, then ages the pages in the range; the model's aging clears
 *   the flags of shared folios and splits nothing. `mmusim guest-plan` refuses a reclaim while
 *   more than one process runs, and one whose range starts or ends inside a large folio the
 *   config can map there; a folio that earlier calls left partly mapped (a partial munmap,
 *   MADV_DONTNEED or mremap) or split across two VMAs (a partial mprotect) cannot be seen at
 *   plan time, and there the comparison shows the split. ENOMEM (holes in the range) is no
 *   failure: the mapped parts are aged.
 *
 * Choices where interface.md leaves room or Linux needs something else:
 * - The layout: the program re-executes itself once with personality ADDR_NO_RANDOMIZE, so
 *   its heap starts right after its data (arm64 randomizes the heap's start over 1 GiB, which
 *   can put it into the plan's regions). A region overlapping the guest's memory is an error.
 * - `op 0 exit` is refused (process 0 is PID 1), and a failing fork is a fatal error (the
 *   child's lines could not run); other failing calls are noted "op N failed: errno NAME".
 * - An exited process is reaped by its parent in the very next step, before anything else
 *   runs, so its memory is gone when the plan goes on.
 * - uffd_register's features are those of the process's first uffd_register (UFFDIO_API
 *   cannot change them); uffd_wp and uffd_unregister without a userfaultfd fail with EBADF.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/mempolicy.h>
#include <linux/userfaultfd.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

/* Newer than Debian 12's kernel headers (values of the kernel's uapi). */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/* ---- The checkpoint (interface.md section 2) ---- */

#define MMUSIM_CKPT_MAGIC 0x6b63706b63756d6dULL

struct mmusim_page {
	uint64_t va;
	uint64_t pagemap;    /* the /proc/self/pagemap entry of va */
	uint64_t kpageflags; /* /proc/kpageflags of its pfn; 0 when not present */
};
struct mmusim_folio {
	uint32_t pages; /* pages of its folio (1 for order 0); 0: no folio (zero page, not present) */
	uint32_t index; /* the page's index in its folio */
	uint64_t head_pfn;
};
struct mmusim_counter {
	char name[56]; /* NUL-terminated */
	uint64_t value; /* since the plan started */
};
struct mmusim_ckpt {
	uint64_t magic;
	uint32_t index;   /* the checkpoint's INDEX */
	uint32_t process; /* the plan's PID of the reporting process */
	uint64_t cookie;  /* the process's own getpid() */
	uint64_t npages;
	uint64_t pages;  /* address of npages struct mmusim_page */
	uint64_t folios; /* address of npages struct mmusim_folio */
	uint64_t ncounters;
	uint64_t counters; /* address of ncounters struct mmusim_counter */
};
_Static_assert(sizeof(struct mmusim_page) == 24, "struct mmusim_page is 24 bytes");
_Static_assert(sizeof(struct mmusim_folio) == 16, "struct mmusim_folio is 16 bytes");
_Static_assert(sizeof(struct mmusim_counter) == 64, "struct mmusim_counter is 64 bytes");
_Static_assert(sizeof(struct mmusim_ckpt) == 64, "struct mmusim_ckpt is 64 bytes");

#if defined(__has_attribute)
#if __has_attribute(noipa)
#define HOOK __attribute__((noinline, noipa, used))
#endif
#endif
#ifndef HOOK
#define HOOK __attribute__((noinline, used))
#endif

void mmusim_checkpoint_hook(const volatile struct mmusim_ckpt *c);
void mmusim_done_hook(uint64_t status);

/* The host's gdb has a breakpoint here; x0 holds c. */
HOOK void mmusim_checkpoint_hook(const volatile struct mmusim_ckpt *c)
{
	asm volatile("" : : "r"(c) : "memory");
}

/* The host's gdb has a breakpoint here; x0 holds the status (0: the plan ran, 1: an error). */
HOOK void mmusim_done_hook(uint64_t status)
{
	asm volatile("" : : "r"(status) : "memory");
}

/* ---- Limits and constants ---- */

#define PAGE 4096u
#define MAX_PROCS 64
#define MAX_REGIONS 256
#define MAX_FILES 64
#define MAX_COUNTERS 512
#define MAX_GUEST_RANGES 256
#define MAX_TOKENS 10
#define MAX_PLAN_PAGES (1u << 20)
#define MAX_FOLIO_PAGES (1u << 18) /* 1 GiB of 4K pages */
#define STACK_AREA (512u * 1024)
#define MONITOR_STACK_SIZE (256u * 1024)
#define SIGNAL_STACK_SIZE (64u * 1024)
#define PAGEMAP_CHUNK 512

#define PM_PRESENT (1ULL << 63)
#define PM_PFN_MASK ((1ULL << 55) - 1)
#define KPF_COMPOUND_HEAD (1ULL << 15)
#define KPF_COMPOUND_TAIL (1ULL << 16)
#define KPF_ZERO_PAGE (1ULL << 24)

#define THP_DIR "/sys/kernel/mm/transparent_hugepage"

/* ---- The plan ---- */

enum line_kind { LINE_OP, LINE_RUN, LINE_CHECKPOINT };
enum op_kind {
	OP_MMAP, OP_MUNMAP, OP_MPROTECT, OP_MADVISE, OP_MREMAP, OP_FORK, OP_EXIT,
	OP_UFFD_REGISTER, OP_UFFD_WP, OP_UFFD_UNREGISTER, OP_MIGRATE, OP_RECLAIM,
};
enum access_kind { ACCESS_LOAD, ACCESS_STORE, ACCESS_IFETCH };

struct prog_line {
	const char *text;      /* the plan's line, for messages */
	unsigned source_line;  /* its 1-based number in the plan file */
	unsigned prog_index;   /* its 0-based index among the program lines */
	enum line_kind kind;
	int pid;
	/* op */
	enum op_kind op;
	uint64_t addr, len;
	uint64_t new_addr;      /* mremap */
	int prot;               /* mmap, mprotect */
	int map_flags;          /* mmap: MAP_PRIVATE or MAP_SHARED */
	int file;               /* mmap: the plan's file number, or -1 for anonymous memory */
	uint64_t file_offset;   /* mmap of a file */
	int advice;             /* madvise */
	int child;              /* fork */
	uint64_t uffd_features; /* uffd_register: for UFFDIO_API */
	uint64_t uffd_mode;     /* uffd_register: UFFDIO_REGISTER_MODE_*; uffd_wp: WP or 0 */
	/* run */
	enum access_kind access;
	uint64_t size, va, delta, count;
	/* checkpoint */
	uint32_t index;
	const char *name;
};

struct sysfs_setting {
	char path[256];
	const char *value;
};

struct region {
	char name[64];
	uint64_t addr, npages;
};

enum step_kind {
	STEP_LINE,           /* an op or run line of its process */
	STEP_CHILD_START,    /* a forked child takes over (after its fork line) */
	STEP_EXIT,           /* the process exits (op exit, or at the end of the plan) */
	STEP_REAP,           /* its parent, or process 0, reaps it */
	STEP_PUBLISH_FAULTS, /* checkpoint: each live process publishes its fault count */
	STEP_REPORT,         /* checkpoint: each live process reports its pages, calls the hook */
	STEP_DONE,           /* process 0 ends the plan */
};

struct step {
	enum step_kind kind;
	int owner;                   /* the plan process that runs it */
	int target;                  /* STEP_REAP: the process reaped */
	bool first;                  /* STEP_REPORT: the first reporter reads the counters */
	const struct prog_line *line; /* NULL for the exits at the end and STEP_DONE */
};

static struct {
	char *text;
	struct sysfs_setting *sysfs;
	unsigned nsysfs;
	struct region regions[MAX_REGIONS];
	unsigned nregions;
	uint64_t npages;
	struct prog_line *prog;
	unsigned nprog;
	struct step *steps;
	uint32_t nsteps;
} plan;

/* The plan's files (see "Files" below). */
static struct {
	uint64_t size[MAX_FILES]; /* 0: no such file */
	int fd[MAX_FILES];
} plan_files;

/* ---- State shared by all plan processes (a MAP_SHARED page made before the plan) ---- */

#define TURN_ABORTED UINT32_MAX

struct shared {
	uint32_t turn;                  /* futex: the step that may run; TURN_ABORTED after an error */
	int32_t real_pid[MAX_PROCS];    /* the pid of each forked plan process; 0 once reaped */
	uint64_t faults_now[MAX_PROCS]; /* each live process's plan faults, published at checkpoints */
	uint64_t exited_faults;         /* the plan faults of the processes that exited */
	uint64_t guest_faults;          /* faults the guest took on its own memory during the plan */
	uint64_t ncounters;
	struct mmusim_counter counters[MAX_COUNTERS]; /* read once per checkpoint, by the first reporter */
};

/* ---- Process state ---- */

static bool init_mode;        /* PID 1 of the guest (else a test run on a host) */
static int me;                /* the plan's id of this process */
static struct shared *sh;
static uint64_t self_guest_faults; /* this process's faults that were not the plan's */
static int pagemap_fd = -1;
static int kpageflags_fd = -1;
static struct mmusim_page *page_states; /* npages, for the checkpoints */
static struct mmusim_folio *folio_states;
static struct mmusim_ckpt ckpt;
static void *signal_stack;
static void *monitor_stack;

struct guest_range {
	uintptr_t start, end;
};
static struct guest_range guest_ranges[MAX_GUEST_RANGES];
static unsigned nguest_ranges;

/* ---- Console ---- */

static void write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* One line "<prefix><message>\n" on fd, formatted on the stack (no allocation). */
static void vwrite_line(int fd, const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t n = (size_t)snprintf(buf, sizeof buf, "%s", prefix);
	int m = vsnprintf(buf + n, sizeof buf - n, fmt, ap);
	if (m > 0)
		n += (size_t)m < sizeof buf - n ? (size_t)m : sizeof buf - n - 1;
	buf[n++] = '\n';
	write_all(fd, buf, n);
}

/* A progress line on the console (stderr of a test run). */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwrite_line(2, "mmusim-guest: ", fmt, ap);
	va_end(ap);
}

/* A line of a test run's checkpoint output on stdout. */
__attribute__((format(printf, 1, 2))) static void print_line(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwrite_line(1, "", fmt, ap);
	va_end(ap);
}

static const char *errno_name(int e)
{
	const char *name = strerrorname_np(e);
	return name ? name : "EUNKNOWN";
}

/* ---- The end ---- */

static void futex_wake_all(uint32_t *addr, bool shared)
{
	syscall(SYS_futex, addr, shared ? FUTEX_WAKE : FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static void futex_wait(uint32_t *addr, uint32_t value, bool shared)
{
	syscall(SYS_futex, addr, shared ? FUTEX_WAIT : FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}

__attribute__((noreturn)) static void power_off(void)
{
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

/* Test runs: process 0 kills and reaps the others after an error. */
static void stop_children(void)
{
	for (int p = 1; p < MAX_PROCS; p++)
		if (sh->real_pid[p] > 0)
			kill(sh->real_pid[p], SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
}

/* Another process failed: it has reported and (in the guest) powers the machine off. */
__attribute__((noreturn)) static void stop_after_other_failure(void)
{
	if (init_mode)
		for (;;)
			pause();
	if (me == 0)
		stop_children();
	_exit(1);
}

__attribute__((noreturn)) static void end_after_error(void)
{
	mmusim_done_hook(1);
	if (init_mode)
		power_off();
	if (sh) {
		__atomic_store_n(&sh->turn, TURN_ABORTED, __ATOMIC_SEQ_CST);
		futex_wake_all(&sh->turn, true);
		if (me == 0)
			stop_children();
	}
	_exit(1);
}

__attribute__((noreturn, format(printf, 1, 2))) static void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwrite_line(2, "mmusim-guest: error: ", fmt, ap);
	va_end(ap);
	end_after_error();
}

/* ---- Small system helpers ---- */

static void *alloc_pages(size_t size, const char *what)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal("cannot allocate %zu bytes for %s: %s", size, what, errno_name(errno));
	return p;
}

/* The plan's text, program and steps are made read-only once built (seal_plan): a fork's
 * re-locking (mlock populates writable private memory for writing, copying every page)
 * then shares them between the plan processes instead of copying them into each; a long
 * plan with forks would not fit in the guest's memory otherwise. */
static struct {
	void *p;
	size_t size;
} plan_blocks[4];

static void *alloc_plan_pages(size_t size, const char *what)
{
	void *p = alloc_pages(size, what);
	for (size_t i = 0; i < sizeof plan_blocks / sizeof plan_blocks[0]; i++)
		if (plan_blocks[i].p == NULL) {
			plan_blocks[i].p = p;
			plan_blocks[i].size = size;
			return p;
		}
	fatal("too many plan blocks");
}

static void seal_plan(void)
{
	for (size_t i = 0; i < sizeof plan_blocks / sizeof plan_blocks[0]; i++)
		if (plan_blocks[i].p != NULL && mprotect(plan_blocks[i].p, plan_blocks[i].size, PROT_READ) != 0)
			fatal("cannot make the plan read-only: %s", errno_name(errno));
}

/* Reads a whole (small or proc/sys) file into buf, NUL-terminated; returns its length. */
static size_t read_text_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fatal("cannot open %s: %s", path, errno_name(errno));
	size_t n = 0;
	for (;;) {
		if (n == size - 1)
			fatal("%s is larger than the %zu bytes read of it", path, size - 1);
		ssize_t r = read(fd, buf + n, size - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			fatal("cannot read %s: %s", path, errno_name(errno));
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	return n;
}

static void pread_exact(int fd, void *buf, size_t len, uint64_t offset, const char *what)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(offset + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			fatal("cannot read %s at offset 0x%" PRIx64 ": %s", what, offset + done,
			      r < 0 ? errno_name(errno) : "end of file");
		done += (size_t)r;
	}
}

static uint64_t own_fault_count(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt;
}

/* The faults of this process since begin were the guest's own: not the plan's. */
static void count_guest_faults_since(uint64_t begin)
{
	uint64_t n = own_fault_count() - begin;
	self_guest_faults += n;
	__atomic_add_fetch(&sh->guest_faults, n, __ATOMIC_SEQ_CST);
}

static uint64_t plan_fault_count(void)
{
	return own_fault_count() - self_guest_faults;
}

/* ---- Reading the plan ---- */

static void read_plan(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0)
		fatal("cannot open the plan %s: %s", path, errno_name(errno));
	size_t size = (size_t)st.st_size;
	plan.text = alloc_plan_pages(size + 1, "the plan");
	size_t n = 0;
	while (n < size) {
		ssize_t r = read(fd, plan.text + n, size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			fatal("cannot read the plan %s: %s", path, r < 0 ? errno_name(errno) : "short file");
		n += (size_t)r;
	}
	close(fd);
	plan.text[size] = '\0';
	if (strlen(plan.text) != size)
		fatal("the plan %s contains a NUL byte", path);
}

/* ---- Parsing the plan ---- */

static unsigned parse_lineno;   /* the line being parsed, for messages */
static const char *parse_text;

__attribute__((noreturn, format(printf, 1, 2))) static void plan_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fatal("plan line %u: %s: \"%s\"", parse_lineno, msg, parse_text);
}

/* A checked property of a program line, found after its own parsing (by the step builder). */
__attribute__((noreturn, format(printf, 2, 3))) static void
program_error(const struct prog_line *l, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	parse_lineno = l->source_line;
	parse_text = l->text;
	plan_error("%s", msg);
}

struct token {
	const char *s;
	size_t n;
};

/* Splits a line into tokens separated by single spaces (no leading, trailing or double
 * spaces, no control characters). */
static unsigned split_tokens(const char *line, struct token *t)
{
	unsigned n = 0;
	const char *p = line;
	for (;;) {
		const char *q = p;
		while (*q && *q != ' ') {
			if ((unsigned char)*q < 0x20 || *q == 0x7f)
				plan_error("control character 0x%02x", (unsigned char)*q);
			q++;
		}
		if (q == p)
			plan_error(*line ? "tokens must be separated by single spaces" : "empty line");
		if (n == MAX_TOKENS)
			plan_error("more than %d tokens", MAX_TOKENS);
		t[n++] = (struct token){p, (size_t)(q - p)};
		if (!*q)
			return n;
		p = q + 1;
	}
}

static bool tok_is(struct token t, const char *word)
{
	return t.n == strlen(word) && memcmp(t.s, word, t.n) == 0;
}

/* A number: decimal, or hex with 0x. */
static uint64_t tok_u64(struct token t, const char *what)
{
	uint64_t v = 0;
	bool hex = t.n > 2 && t.s[0] == '0' && t.s[1] == 'x';
	size_t i = hex ? 2 : 0;
	if (i == t.n)
		plan_error("%s \"%.*s\" is not a number", what, (int)t.n, t.s);
	for (; i < t.n; i++) {
		char c = t.s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (hex && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (hex && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			plan_error("%s \"%.*s\" is not a number", what, (int)t.n, t.s);
		unsigned base = hex ? 16 : 10;
		if (v > (UINT64_MAX - d) / base)
			plan_error("%s \"%.*s\" does not fit in 64 bits", what, (int)t.n, t.s);
		v = v * base + d;
	}
	return v;
}

static int tok_pid(struct token t)
{
	uint64_t v = tok_u64(t, "process id");
	if (v >= MAX_PROCS)
		plan_error("process id %" PRIu64 " is not below %d", v, MAX_PROCS);
	return (int)v;
}

/* "none" or letters from rwx. */
static int tok_prot(struct token t)
{
	if (tok_is(t, "none"))
		return PROT_NONE;
	int prot = 0;
	for (size_t i = 0; i < t.n; i++) {
		int bit = t.s[i] == 'r' ? PROT_READ : t.s[i] == 'w' ? PROT_WRITE : t.s[i] == 'x' ? PROT_EXEC : 0;
		if (!bit || (prot & bit))
			plan_error("protection \"%.*s\" is not none or letters from rwx", (int)t.n, t.s);
		prot |= bit;
	}
	return prot;
}

/* "KEY=0" or "KEY=1". */
static bool tok_flag(struct token t, const char *key)
{
	size_t k = strlen(key);
	if (t.n != k + 2 || memcmp(t.s, key, k) != 0 || t.s[k] != '=' || (t.s[k + 1] != '0' && t.s[k + 1] != '1'))
		plan_error("expected %s=0 or %s=1, not \"%.*s\"", key, key, (int)t.n, t.s);
	return t.s[k + 1] == '1';
}

static bool tok_bit(struct token t, const char *what)
{
	if (!tok_is(t, "0") && !tok_is(t, "1"))
		plan_error("%s must be 0 or 1, not \"%.*s\"", what, (int)t.n, t.s);
	return t.s[0] == '1';
}

static const struct {
	const char *name;
	int advice;
} advices[] = {
	{"dontneed", MADV_DONTNEED}, {"free", MADV_FREE},         {"hugepage", MADV_HUGEPAGE},
	{"nohugepage", MADV_NOHUGEPAGE}, {"dontfork", MADV_DONTFORK}, {"dofork", MADV_DOFORK},
	{"collapse", MADV_COLLAPSE}, {"pageout", MADV_PAGEOUT},   {"cold", MADV_COLD},
};

static const struct {
	const char *name;
	enum op_kind op;
	unsigned nargs;
} ops[] = {
	{"mmap", OP_MMAP, 4},         {"munmap", OP_MUNMAP, 2}, {"mprotect", OP_MPROTECT, 3},
	{"madvise", OP_MADVISE, 3},   {"mremap", OP_MREMAP, 3}, {"fork", OP_FORK, 1},
	{"exit", OP_EXIT, 0},         {"uffd_register", OP_UFFD_REGISTER, 6},
	{"uffd_wp", OP_UFFD_WP, 3},   {"uffd_unregister", OP_UFFD_UNREGISTER, 2},
	{"migrate", OP_MIGRATE, 2},   {"reclaim", OP_RECLAIM, 2},
};

/* op PID NAME ARGS... */
static void parse_op(struct prog_line *l, const struct token *t, unsigned n)
{
	unsigned k = 0;
	while (k < sizeof ops / sizeof ops[0] && !tok_is(t[2], ops[k].name))
		k++;
	if (k == sizeof ops / sizeof ops[0])
		plan_error("unknown op \"%.*s\"", (int)t[2].n, t[2].s);
	/* mmap of a file takes three more: file N OFFSET */
	bool file_mmap = ops[k].op == OP_MMAP && n == 3 + ops[k].nargs + 3;
	if (n != 3 + ops[k].nargs && !file_mmap)
		plan_error("op %s takes %u arguments", ops[k].name, ops[k].nargs);
	l->op = ops[k].op;
	l->file = -1;
	const struct token *a = t + 3;
	switch (l->op) {
	case OP_MMAP:
		l->prot = tok_prot(a[2]);
		if (tok_is(a[3], "private"))
			l->map_flags = MAP_PRIVATE;
		else if (tok_is(a[3], "shared"))
			l->map_flags = MAP_SHARED;
		else
			plan_error("mmap's fourth argument must be private or shared");
		if (file_mmap) {
			uint64_t file = tok_u64(a[5], "file number");
			if (!tok_is(a[4], "file") || file >= MAX_FILES || !plan_files.size[file])
				plan_error("an mmap of a file ends: file N OFFSET, N a file of a file line");
			l->file = (int)file;
			l->file_offset = tok_u64(a[6], "file offset");
			if (l->file_offset % PAGE)
				plan_error("the file offset must be page aligned");
		}
		break;
	case OP_MPROTECT:
		l->prot = tok_prot(a[2]);
		break;
	case OP_MADVISE: {
		size_t i = 0;
		while (i < sizeof advices / sizeof advices[0] && !tok_is(a[2], advices[i].name))
			i++;
		if (i == sizeof advices / sizeof advices[0])
			plan_error("unknown advice \"%.*s\"", (int)a[2].n, a[2].s);
		l->advice = advices[i].advice;
		break;
	}
	case OP_MREMAP:
		l->new_addr = tok_u64(a[2], "new address");
		break;
	case OP_FORK:
		l->child = tok_pid(a[0]);
		break;
	case OP_UFFD_REGISTER: {
		bool missing = tok_flag(a[2], "missing"), wp = tok_flag(a[3], "wp");
		bool async = tok_flag(a[4], "async"), wp_unpopulated = tok_flag(a[5], "wp_unpopulated");
		l->uffd_features = (wp ? UFFD_FEATURE_PAGEFAULT_FLAG_WP : 0) |
				   (async ? UFFD_FEATURE_WP_ASYNC : 0) |
				   (wp_unpopulated ? UFFD_FEATURE_WP_UNPOPULATED : 0);
		l->uffd_mode = (missing ? UFFDIO_REGISTER_MODE_MISSING : 0) | (wp ? UFFDIO_REGISTER_MODE_WP : 0);
		break;
	}
	case OP_UFFD_WP:
		l->uffd_mode = tok_bit(a[2], "uffd_wp's mode") ? UFFDIO_WRITEPROTECT_MODE_WP : 0;
		break;
	case OP_MUNMAP:
	case OP_EXIT:
	case OP_UFFD_UNREGISTER:
	case OP_MIGRATE:
	case OP_RECLAIM:
		break;
	}
	if (l->op != OP_FORK && l->op != OP_EXIT) {
		l->addr = tok_u64(a[0], "address");
		l->len = tok_u64(a[1], "length");
	}
}

/* run PID KIND SIZE VA DELTA COUNT */
static void parse_run(struct prog_line *l, const struct token *t, unsigned n)
{
	if (n != 7)
		plan_error("a run line is: run PID KIND SIZE VA DELTA COUNT");
	if (tok_is(t[2], "load"))
		l->access = ACCESS_LOAD;
	else if (tok_is(t[2], "store"))
		l->access = ACCESS_STORE;
	else if (tok_is(t[2], "ifetch"))
		l->access = ACCESS_IFETCH;
	else
		plan_error("unknown access kind \"%.*s\"", (int)t[2].n, t[2].s);
	l->size = tok_u64(t[3], "size");
	l->va = tok_u64(t[4], "address");
	l->delta = tok_u64(t[5], "delta");
	l->count = tok_u64(t[6], "count");
	if (l->size < 1 || l->size > PAGE)
		plan_error("size %" PRIu64 " is not in 1..4096", l->size);
	/* The i-th access is at VA + i * DELTA modulo 2^64: a step down is a DELTA above 2^63
	 * (random accesses come as runs of two). An address outside the plan's memory faults,
	 * which is an error naming this line. */
	if (l->access == ACCESS_IFETCH) {
#ifndef __aarch64__
		plan_error("ifetch is only supported in the aarch64 build");
#endif
		if (l->va % 4 || l->delta % 4)
			plan_error("ifetch addresses must be multiples of 4");
	}
}

static void parse_region(const struct token *t, unsigned n)
{
	if (n != 4)
		plan_error("a region line is: region NAME ADDR SIZE");
	if (plan.nregions == MAX_REGIONS)
		plan_error("more than %d regions", MAX_REGIONS);
	struct region *r = &plan.regions[plan.nregions];
	if (t[1].n >= sizeof r->name)
		plan_error("region name longer than %zu characters", sizeof r->name - 1);
	memcpy(r->name, t[1].s, t[1].n);
	r->name[t[1].n] = '\0';
	uint64_t addr = tok_u64(t[2], "address"), size = tok_u64(t[3], "size"), end;
	if (addr % PAGE || size % PAGE || size == 0 || __builtin_add_overflow(addr, size, &end))
		plan_error("a region must be page aligned, not empty, and not wrap");
	for (unsigned i = 0; i < plan.nregions; i++) {
		const struct region *o = &plan.regions[i];
		if (addr < o->addr + o->npages * PAGE && o->addr < end)
			plan_error("region overlaps region %s", o->name);
	}
	r->addr = addr;
	r->npages = size / PAGE;
	plan.npages += r->npages;
	if (plan.npages > MAX_PLAN_PAGES)
		plan_error("the regions have more than %u pages", MAX_PLAN_PAGES);
	plan.nregions++;
}

static void parse_sysfs(const struct token *t, unsigned n)
{
	if (n != 3)
		plan_error("a sysfs line is: sysfs PATH VALUE");
	struct sysfs_setting *s = &plan.sysfs[plan.nsysfs++];
	if (t[1].n >= sizeof s->path || t[1].n < 5 || memcmp(t[1].s, "/sys/", 5) != 0)
		plan_error("the path must be under /sys/ and shorter than %zu characters", sizeof s->path);
	memcpy(s->path, t[1].s, t[1].n);
	s->path[t[1].n] = '\0';
	s->value = t[2].s; /* the last token: NUL-terminated with its line */
}

/* ---- Swap: a plan's line "swap zram SIZE" ----
 *
 * A plan that pages out (madvise pageout) swaps to a zram device of SIZE bytes, set up before
 * the plan as the sysfs lines are (so nothing of it is counted in the plan's faults or
 * counters): the modules of /lib/modules/order are loaded in that order with finit_module
 * (the host puts zram and what it depends on there, decompressed; a kernel with zram built in
 * needs none), devtmpfs is mounted on /dev (the console, opened before, stays open), zram0
 * gets its disk size with the driver's default compressor (Debian's 6.12 zram has no lzo
 * backend), page 0 gets a swap header (mkswap's format: version 1, last_page, magic
 * "SWAPSPACE2" at the page's end), and swapon(2) enables it with flags 0. zswap is turned off,
 * so that swapped folios go to the device. Any failure is fatal. */

#define MODULES_ORDER "/lib/modules/order"
#define ZRAM_SYS "/sys/block/zram0"
#define ZRAM_DEV "/dev/zram0"
#define ZSWAP_ENABLED "/sys/module/zswap/parameters/enabled"

static struct {
	bool wanted;
	uint64_t bytes;
} swap_plan;

/* The /proc/vmstat lines that show swapping, among the counters (not compared with the model's:
 * they tell whether pageout and swap-in happened): pswpin, pswpout, pgmajfault. */
static bool is_swap_vmstat(const char *line, size_t n)
{
	static const char *const names[] = {"pswpin", "pswpout", "pgmajfault"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (n == strlen(names[i]) && strncmp(line, names[i], n) == 0)
			return true;
	return false;
}

/* swap zram SIZE */
static void parse_swap(const struct token *t, unsigned n)
{
	if (n != 3 || !tok_is(t[1], "zram"))
		plan_error("a swap line is: swap zram SIZE");
	if (swap_plan.wanted)
		plan_error("a second swap line");
	uint64_t size = tok_u64(t[2], "swap size");
	if (size % PAGE || size / PAGE < 2 || size / PAGE - 1 > UINT32_MAX)
		plan_error("the swap size must be a multiple of 4096, of 2 to 2^32 pages");
	swap_plan.wanted = true;
	swap_plan.bytes = size;
}

/* ---- Files ----
 *
 * A plan that maps files starts with one line per file: file N SIZE. Before the plan, the
 * guest makes each one a sparse file of SIZE bytes on a tmpfs of its own (no huge=: base-page
 * folios), so that, as in the model, its page cache starts empty and the first fault on a page
 * allocates it. The descriptors stay open; forked plan processes inherit them. */

#define FILES_DIR "/files"

/* file N SIZE */
static void parse_file(const struct token *t, unsigned n)
{
	if (n != 3)
		plan_error("a file line is: file N SIZE");
	uint64_t file = tok_u64(t[1], "file number"), size = tok_u64(t[2], "file size");
	if (file >= MAX_FILES)
		plan_error("file numbers go up to %d", MAX_FILES - 1);
	if (plan_files.size[file])
		plan_error("a second line for file %" PRIu64, file);
	if (size == 0 || size % PAGE)
		plan_error("a file's size must be a positive multiple of 4096");
	plan_files.size[file] = size;
}

static void create_files(void)
{
	char dir[64] = FILES_DIR;
	if (init_mode) {
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			fatal("mkdir %s: %s", dir, errno_name(errno));
		if (mount("tmpfs", dir, "tmpfs", 0, "huge=never") != 0)
			fatal("mount tmpfs on %s: %s", dir, errno_name(errno));
	} else {
		snprintf(dir, sizeof dir, "/tmp/mmusim-guest-files.%d", (int)getpid());
		if (mkdir(dir, 0700) != 0)
			fatal("mkdir %s: %s", dir, errno_name(errno));
	}
	for (int f = 0; f < MAX_FILES; f++) {
		plan_files.fd[f] = -1;
		if (!plan_files.size[f])
			continue;
		char path[96];
		snprintf(path, sizeof path, "%s/%d", dir, f);
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || ftruncate(fd, (off_t)plan_files.size[f]) != 0)
			fatal("cannot make the plan's file %s of %" PRIu64 " bytes: %s", path, plan_files.size[f], errno_name(errno));
		if (!init_mode)
			unlink(path); /* a test run leaves nothing behind */
		plan_files.fd[f] = fd;
	}
	if (!init_mode)
		rmdir(dir);
}

/* The plan's "numa N" line: the machine it was booted on has N NUMA nodes (0: no such line). */
static unsigned numa_nodes;

/* numa NODES: a header line after the sysfs lines, in plans that migrate. */
static void parse_numa(const struct token *t, unsigned n)
{
	if (n != 2)
		plan_error("a numa line is: numa NODES");
	if (numa_nodes)
		plan_error("a second numa line");
	uint64_t v = tok_u64(t[1], "number of nodes");
	if (v < 2 || v > 64)
		plan_error("the number of NUMA nodes must be in 2..64");
	numa_nodes = (unsigned)v;
}

enum section { SEC_HEADER, SEC_SYSFS, SEC_REGION, SEC_PROGRAM, SEC_END };

static void parse_line(const char *text, enum section *section)
{
	struct token t[MAX_TOKENS];
	if (*section == SEC_END)
		plan_error("a line after \"end\"");
	unsigned n = split_tokens(text, t);
	if (*section == SEC_HEADER) {
		if (n != 2 || !tok_is(t[0], "mmusim-guest-plan") || !tok_is(t[1], "1"))
			plan_error("the plan must start with \"mmusim-guest-plan 1\"");
		*section = SEC_SYSFS;
	} else if (tok_is(t[0], "sysfs")) {
		if (*section != SEC_SYSFS)
			plan_error("sysfs lines come before the region and program lines");
		parse_sysfs(t, n);
	} else if (tok_is(t[0], "file")) {
		if (*section != SEC_SYSFS)
			plan_error("file lines come before the region and program lines");
		parse_file(t, n);
	} else if (tok_is(t[0], "swap")) {
		if (*section != SEC_SYSFS)
			plan_error("the swap line comes before the region and program lines");
		parse_swap(t, n);
	} else if (tok_is(t[0], "numa")) {
		if (*section != SEC_SYSFS)
			plan_error("the numa line comes after the sysfs lines and before the region lines");
		parse_numa(t, n);
	} else if (tok_is(t[0], "region")) {
		if (*section > SEC_REGION)
			plan_error("region lines come before the program lines");
		*section = SEC_REGION;
		parse_region(t, n);
	} else if (tok_is(t[0], "op") || tok_is(t[0], "run") || tok_is(t[0], "checkpoint")) {
		*section = SEC_PROGRAM;
		struct prog_line *l = &plan.prog[plan.nprog];
		*l = (struct prog_line){.text = text, .source_line = parse_lineno, .prog_index = plan.nprog};
		if (tok_is(t[0], "checkpoint")) {
			if (n != 3)
				plan_error("a checkpoint line is: checkpoint INDEX NAME");
			l->kind = LINE_CHECKPOINT;
			uint64_t index = tok_u64(t[1], "index");
			if (index > UINT32_MAX)
				plan_error("checkpoint index does not fit in 32 bits");
			l->index = (uint32_t)index;
			l->name = t[2].s; /* the last token */
		} else {
			if (n < 3)
				plan_error("too few tokens");
			l->pid = tok_pid(t[1]);
			l->kind = tok_is(t[0], "op") ? LINE_OP : LINE_RUN;
			if (l->kind == LINE_OP)
				parse_op(l, t, n);
			else
				parse_run(l, t, n);
		}
		plan.nprog++;
	} else if (tok_is(t[0], "end")) {
		if (n != 1)
			plan_error("\"end\" takes no arguments");
		*section = SEC_END;
	} else {
		plan_error("unknown line kind \"%.*s\"", (int)t[0].n, t[0].s);
	}
}

static void parse_plan(void)
{
	unsigned nlines = 1;
	for (const char *p = plan.text; *p; p++)
		nlines += *p == '\n';
	plan.sysfs = alloc_plan_pages(nlines * sizeof *plan.sysfs, "the plan's sysfs lines");
	plan.prog = alloc_plan_pages(nlines * sizeof *plan.prog, "the plan's program");

	enum section section = SEC_HEADER;
	char *p = plan.text;
	while (*p) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		parse_lineno++;
		parse_text = p;
		parse_line(p, &section);
		p = nl ? nl + 1 : p + strlen(p);
	}
	parse_lineno++;
	parse_text = "";
	if (section != SEC_END)
		plan_error("the plan does not end with \"end\"");
}

/* ---- Steps: who runs what, in which order ---- */

struct step_list {
	struct step *v; /* NULL: only count */
	uint32_t n;
};

static void add_step(struct step_list *sl, struct step s)
{
	if (sl->n >= TURN_ABORTED - 1)
		fatal("the plan has too many steps");
	if (sl->v)
		sl->v[sl->n] = s;
	sl->n++;
}

struct process_table {
	bool live[MAX_PROCS];
	int parent[MAX_PROCS];
};

/* Process p exits; its parent (or process 0, the subreaper, when the parent is gone) reaps
 * it, and its children are process 0's from then on. */
static void add_exit_steps(struct step_list *sl, struct process_table *pt, int p, const struct prog_line *l)
{
	add_step(sl, (struct step){.kind = STEP_EXIT, .owner = p, .line = l});
	add_step(sl, (struct step){.kind = STEP_REAP, .owner = pt->parent[p], .target = p, .line = l});
	pt->live[p] = false;
	for (int c = 0; c < MAX_PROCS; c++)
		if (pt->live[c] && pt->parent[c] == p)
			pt->parent[c] = 0;
}

/* Checks which processes run each line and builds the steps (or counts them). */
static uint32_t build_steps(struct step *out)
{
	struct step_list sl = {out, 0};
	struct process_table pt = {.live = {true}};
	for (unsigned i = 0; i < plan.nprog; i++) {
		const struct prog_line *l = &plan.prog[i];
		if (l->kind == LINE_CHECKPOINT) {
			for (int p = 0; p < MAX_PROCS; p++)
				if (pt.live[p])
					add_step(&sl, (struct step){.kind = STEP_PUBLISH_FAULTS, .owner = p, .line = l});
			bool first = true;
			for (int p = 0; p < MAX_PROCS; p++)
				if (pt.live[p]) {
					add_step(&sl, (struct step){.kind = STEP_REPORT, .owner = p, .first = first, .line = l});
					first = false;
				}
			continue;
		}
		if (!pt.live[l->pid])
			program_error(l, "process %d is not running here", l->pid);
		if (l->kind == LINE_OP && l->op == OP_EXIT) {
			if (l->pid == 0)
				program_error(l, "process 0 cannot exit (it is init and reaps the others)");
			add_exit_steps(&sl, &pt, l->pid, l);
			continue;
		}
		add_step(&sl, (struct step){.kind = STEP_LINE, .owner = l->pid, .line = l});
		if (l->kind == LINE_OP && l->op == OP_FORK) {
			/* An id comes back after its process exited, as a child name forked again. */
			if (pt.live[l->child])
				program_error(l, "process id %d is still running", l->child);
			pt.live[l->child] = true;
			pt.parent[l->child] = l->pid;
			add_step(&sl, (struct step){.kind = STEP_CHILD_START, .owner = l->child, .line = l});
		}
	}
	for (int p = 1; p < MAX_PROCS; p++)
		if (pt.live[p])
			add_exit_steps(&sl, &pt, p, NULL);
	add_step(&sl, (struct step){.kind = STEP_DONE, .owner = 0});
	return sl.n;
}

static void plan_steps(void)
{
	plan.nsteps = build_steps(NULL);
	plan.steps = alloc_plan_pages(plan.nsteps * sizeof *plan.steps, "the plan's steps");
	build_steps(plan.steps);
}

/* ---- The guest's own memory ---- */

/* Enough heap for glibc's own small allocations during the plan (pthread_create's thread
 * vector, nothing else), so the heap never grows or shrinks once locked. */
static void reserve_heap(void)
{
	mallopt(M_TOP_PAD, 1 << 20);
	mallopt(M_TRIM_THRESHOLD, INT_MAX);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	free(malloc(1));
}

/* The mappings of /proc/self/maps that are the guest's (all of them before the plan), less
 * the kernel's special ones ([vdso], [vvar], [vsyscall]) and inaccessible ones. */
static void record_guest_memory(void)
{
	static char maps[64 * 1024];
	read_text_file("/proc/self/maps", maps, sizeof maps);
	nguest_ranges = 0;
	for (char *line = maps; *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		unsigned long start, end;
		char perms[5];
		if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) != 3)
			fatal("cannot parse /proc/self/maps line \"%s\"", line);
		if (!strstr(line, " [v") && strncmp(perms, "---", 3) != 0) {
			if (nguest_ranges == MAX_GUEST_RANGES)
				fatal("the guest has more than %d mappings", MAX_GUEST_RANGES);
			guest_ranges[nguest_ranges++] = (struct guest_range){start, end};
		}
		line = nl ? nl + 1 : line + strlen(line);
	}
}

/* No THP for the guest's own memory: its folios stay order 0, whatever the plan enables, so
 * copy-on-write after a fork never splits one (which would move the THP counters). */
static void keep_guest_memory_small(void)
{
	record_guest_memory();
	for (unsigned i = 0; i < nguest_ranges; i++)
		if (madvise((void *)guest_ranges[i].start, guest_ranges[i].end - guest_ranges[i].start,
			    MADV_NOHUGEPAGE) != 0)
			fatal("madvise(nohugepage) of the guest's memory at 0x%lx: %s",
			      (unsigned long)guest_ranges[i].start, errno_name(errno));
}

/* Populates and locks the guest's memory. mlock() populates with write faults where the
 * mapping is private and writable, so after a fork this also takes the copy-on-write faults. */
static void lock_guest_memory(void)
{
	for (unsigned i = 0; i < nguest_ranges; i++)
		if (mlock((void *)guest_ranges[i].start, guest_ranges[i].end - guest_ranges[i].start) != 0)
			fatal("cannot lock the guest's memory at 0x%lx-0x%lx: %s",
			      (unsigned long)guest_ranges[i].start, (unsigned long)guest_ranges[i].end,
			      errno_name(errno));
}

/* Writes every page of the shared state (an atomic add of 0: no data changes). mlock()
 * populates shared mappings with read faults; this makes their entries writable and dirty in
 * this process now, not at the plan's first write. */
static void touch_shared_state(void)
{
	for (size_t off = 0; off < sizeof *sh; off += PAGE)
		__atomic_fetch_add((uint32_t *)((char *)sh + off), 0, __ATOMIC_SEQ_CST);
}

/* Grows the stack by STACK_AREA now, from the top down, so calls never fault in the plan. */
__attribute__((noinline)) static void touch_stack_area(void)
{
	char area[STACK_AREA];
	for (size_t i = STACK_AREA; i >= PAGE; i -= PAGE)
		((volatile char *)area)[i - 1] = 0;
	asm volatile("" : : "r"(area) : "memory");
}

static void check_regions_outside_guest(void)
{
	for (unsigned r = 0; r < plan.nregions; r++) {
		const struct region *reg = &plan.regions[r];
		uint64_t end = reg->addr + reg->npages * PAGE;
		for (unsigned i = 0; i < nguest_ranges; i++)
			if (reg->addr < guest_ranges[i].end && guest_ranges[i].start < end)
				fatal("region %s (0x%" PRIx64 "-0x%" PRIx64 ") overlaps the guest's own memory at 0x%lx-0x%lx",
				      reg->name, reg->addr, end, (unsigned long)guest_ranges[i].start,
				      (unsigned long)guest_ranges[i].end);
	}
}

/* ---- Counters ---- */

struct counter_source {
	char name[sizeof ((struct mmusim_counter *)0)->name];
	char path[192]; /* a THP stats file; empty for a /proc/vmstat line */
	uint64_t base;
};
static struct counter_source sources[MAX_COUNTERS - 1]; /* counter 0 is "faults" */
static unsigned nsources;
static char vmstat_text[64 * 1024];

__attribute__((format(printf, 2, 3))) static void add_source(const char *path, const char *fmt, ...)
{
	if (nsources == sizeof sources / sizeof sources[0])
		fatal("more than %d counters", MAX_COUNTERS);
	struct counter_source *c = &sources[nsources++];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(c->name, sizeof c->name, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof c->name)
		fatal("counter name \"%s...\" is longer than %zu characters", c->name, sizeof c->name - 1);
	snprintf(c->path, sizeof c->path, "%s", path);
}

static int compare_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return x < y ? -1 : x > y;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* thp/<N>kB/<stat> for every file of hugepages-<N>kB/stats, sizes ascending, names sorted. */
static void find_thp_stat_sources(void)
{
	DIR *d = opendir(THP_DIR);
	if (!d)
		return;
	unsigned sizes[64], nsizes = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		unsigned kb;
		char rest;
		if (sscanf(e->d_name, "hugepages-%ukB%c", &kb, &rest) == 1 && nsizes < 64)
			sizes[nsizes++] = kb;
	}
	closedir(d);
	qsort(sizes, nsizes, sizeof sizes[0], compare_unsigned);
	for (unsigned i = 0; i < nsizes; i++) {
		char dir[128];
		snprintf(dir, sizeof dir, THP_DIR "/hugepages-%ukB/stats", sizes[i]);
		if (!(d = opendir(dir)))
			continue;
		static char names[64][64];
		unsigned nnames = 0;
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.' && nnames < 64 && strlen(e->d_name) < sizeof names[0])
				strcpy(names[nnames++], e->d_name);
		closedir(d);
		qsort(names, nnames, sizeof names[0], compare_names);
		for (unsigned k = 0; k < nnames; k++) {
			char path[192];
			snprintf(path, sizeof path, "%.127s/%.63s", dir, names[k]);
			add_source(path, "thp/%ukB/%s", sizes[i], names[k]);
		}
	}
}

/* vmstat/<name> for the /proc/vmstat lines thp_* and pgfault, in the file's order. */
static void find_vmstat_sources(void)
{
	read_text_file("/proc/vmstat", vmstat_text, sizeof vmstat_text);
	for (const char *line = vmstat_text; *line;) {
		size_t n = strcspn(line, " \n");
		if ((n > 4 && strncmp(line, "thp_", 4) == 0) || (n == 7 && strncmp(line, "pgfault", 7) == 0) ||
		    is_swap_vmstat(line, n))
			add_source("", "vmstat/%.*s", (int)n, line);
		const char *nl = strchr(line, '\n');
		line = nl ? nl + 1 : line + strlen(line);
	}
}

static uint64_t parse_counter_value(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || (*end && *end != '\n'))
		fatal("%s is not a number: \"%.40s\"", what, s);
	return v;
}

static uint64_t vmstat_value(const char *name)
{
	size_t n = strlen(name);
	for (const char *line = vmstat_text; *line;) {
		if (strncmp(line, name, n) == 0 && line[n] == ' ')
			return parse_counter_value(line + n + 1, name);
		const char *nl = strchr(line, '\n');
		line = nl ? nl + 1 : line + strlen(line);
	}
	fatal("/proc/vmstat has no line %s any more", name);
}

/* Current values of all sources into values[] (no allocation: a static buffer per read). */
static void read_counter_sources(uint64_t *values)
{
	read_text_file("/proc/vmstat", vmstat_text, sizeof vmstat_text);
	for (unsigned i = 0; i < nsources; i++) {
		const struct counter_source *c = &sources[i];
		if (c->path[0]) {
			char buf[64];
			read_text_file(c->path, buf, sizeof buf);
			values[i] = parse_counter_value(buf, c->path);
		} else {
			values[i] = vmstat_value(c->name + strlen("vmstat/"));
		}
	}
}

static void take_counter_baseline(void)
{
	static uint64_t values[MAX_COUNTERS];
	read_counter_sources(values);
	for (unsigned i = 0; i < nsources; i++)
		sources[i].base = values[i];
}

/* The first reporter of a checkpoint: the counters of every process's report. */
static void compute_counters(void)
{
	static uint64_t values[MAX_COUNTERS];
	uint64_t faults = sh->exited_faults;
	for (int p = 0; p < MAX_PROCS; p++)
		faults += sh->faults_now[p];
	read_counter_sources(values);
	snprintf(sh->counters[0].name, sizeof sh->counters[0].name, "faults");
	sh->counters[0].value = faults;
	for (unsigned i = 0; i < nsources; i++) {
		struct mmusim_counter *c = &sh->counters[1 + i];
		memcpy(c->name, sources[i].name, sizeof c->name);
		c->value = values[i] - sources[i].base;
		if (strcmp(c->name, "vmstat/pgfault") == 0)
			c->value -= sh->guest_faults;
	}
	sh->ncounters = 1 + nsources;
}

/* ---- Page states ---- */

static uint64_t kpageflags_of(uint64_t pfn)
{
	uint64_t flags;
	ssize_t r;
	do
		r = pread(kpageflags_fd, &flags, sizeof flags, (off_t)(pfn * sizeof flags));
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0; /* beyond the last pfn */
	if (r != sizeof flags)
		fatal("cannot read /proc/kpageflags of pfn 0x%" PRIx64 ": %s", pfn,
		      r < 0 ? errno_name(errno) : "short read");
	return flags;
}

struct folio_span {
	uint64_t head, pages;
};

/* The folio of a present page from kpageflags: back to the compound head, then forward over
 * the tail pages. last remembers the previous folio: its next pages need no reads. */
static void find_folio(uint64_t pfn, uint64_t flags, struct folio_span *last, struct mmusim_folio *f)
{
	if (!(flags & (KPF_COMPOUND_HEAD | KPF_COMPOUND_TAIL))) {
		*f = (struct mmusim_folio){.pages = 1, .index = 0, .head_pfn = pfn};
		return;
	}
	if (!(last->pages && pfn >= last->head && pfn < last->head + last->pages)) {
		uint64_t head = pfn;
		if (flags & KPF_COMPOUND_TAIL) {
			for (;;) {
				if (head == 0 || pfn - head >= MAX_FOLIO_PAGES)
					fatal("kpageflags: no compound head for the tail page pfn 0x%" PRIx64, pfn);
				uint64_t f_head = kpageflags_of(--head);
				if (f_head & KPF_COMPOUND_HEAD)
					break;
				if (!(f_head & KPF_COMPOUND_TAIL))
					fatal("kpageflags: pfn 0x%" PRIx64 " is a tail page, but pfn 0x%" PRIx64
					      " before it is neither head nor tail",
					      pfn, head);
			}
		}
		uint64_t end = head + 1;
		while (end - head < MAX_FOLIO_PAGES && (kpageflags_of(end) & KPF_COMPOUND_TAIL))
			end++;
		*last = (struct folio_span){head, end - head};
	}
	*f = (struct mmusim_folio){.pages = (uint32_t)last->pages, .index = (uint32_t)(pfn - last->head),
				   .head_pfn = last->head};
}

/* Every page of every region: its pagemap entry, kpageflags and folio. Reading pagemap and
 * kpageflags walks tables and struct pages: it neither faults nor touches plan memory. */
static void fill_page_states(void)
{
	static uint64_t pagemap[PAGEMAP_CHUNK];
	struct folio_span last = {0, 0};
	uint64_t k = 0;
	for (unsigned r = 0; r < plan.nregions; r++) {
		const struct region *reg = &plan.regions[r];
		for (uint64_t done = 0; done < reg->npages; done += PAGEMAP_CHUNK) {
			uint64_t n = reg->npages - done < PAGEMAP_CHUNK ? reg->npages - done : PAGEMAP_CHUNK;
			uint64_t va = reg->addr + done * PAGE;
			pread_exact(pagemap_fd, pagemap, n * sizeof pagemap[0], va / PAGE * sizeof pagemap[0],
				    "/proc/self/pagemap");
			for (uint64_t j = 0; j < n; j++, k++) {
				struct mmusim_page *p = &page_states[k];
				struct mmusim_folio *f = &folio_states[k];
				*p = (struct mmusim_page){.va = va + j * PAGE, .pagemap = pagemap[j]};
				*f = (struct mmusim_folio){0, 0, 0};
				if (!(pagemap[j] & PM_PRESENT) || kpageflags_fd < 0)
					continue;
				uint64_t pfn = pagemap[j] & PM_PFN_MASK;
				p->kpageflags = kpageflags_of(pfn);
				if (!(p->kpageflags & KPF_ZERO_PAGE))
					find_folio(pfn, p->kpageflags, &last, f);
			}
		}
	}
}

static void print_checkpoint(bool with_counters)
{
	print_line("ckpt %" PRIu32 " %" PRIu32 " npages=%" PRIu64 " faults=%" PRIu64, ckpt.index, ckpt.process,
		   ckpt.npages, sh->counters[0].value);
	for (uint64_t k = 0; k < plan.npages; k++)
		print_line("0x%" PRIx64 " 0x%016" PRIx64 " 0x%016" PRIx64 " %" PRIu32 " %" PRIu32, page_states[k].va,
			   page_states[k].pagemap, page_states[k].kpageflags, folio_states[k].pages,
			   folio_states[k].index);
	if (with_counters)
		for (uint64_t i = 0; i < sh->ncounters; i++)
			print_line("counter %s %" PRIu64, sh->counters[i].name, sh->counters[i].value);
}

static void report_checkpoint(const struct step *st)
{
	if (st->first) {
		say("checkpoint %" PRIu32 " %s", st->line->index, st->line->name);
		compute_counters();
	}
	fill_page_states();
	ckpt = (struct mmusim_ckpt){
		.magic = MMUSIM_CKPT_MAGIC,
		.index = st->line->index,
		.process = (uint32_t)me,
		.cookie = (uint64_t)getpid(),
		.npages = plan.npages,
		.pages = (uintptr_t)page_states,
		.folios = (uintptr_t)folio_states,
		.ncounters = sh->ncounters,
		.counters = (uintptr_t)sh->counters,
	};
	mmusim_checkpoint_hook(&ckpt);
	if (!init_mode)
		print_checkpoint(st->first);
}

/* ---- Userfaultfd ---- */

static int uffd = -1;          /* this process's userfaultfd, made at its first uffd_register */
static uint32_t monitor_ready; /* futex: set by the monitor thread once it runs */
static char zero_page[PAGE] __attribute__((aligned(PAGE)));

static void uffd_ioctl_retrying(unsigned long request, void *arg, const char *what, uint64_t page)
{
	while (ioctl(uffd, request, arg) != 0) {
		if (errno == EAGAIN || errno == EINTR)
			continue;
		if (errno == EEXIST && request == UFFDIO_COPY) { /* populated meanwhile: just wake */
			struct uffdio_range range = {.start = page, .len = PAGE};
			uffd_ioctl_retrying(UFFDIO_WAKE, &range, "UFFDIO_WAKE", page);
			return;
		}
		fatal("userfaultfd monitor of process %d: %s at 0x%" PRIx64 ": %s", me, what, page, errno_name(errno));
	}
}

/* Answers this process's userfaults: a missing page gets a zero page (UFFDIO_COPY), a
 * write-protected one loses its protection (UFFDIO_WRITEPROTECT mode 0), one page each. */
static void *monitor_main(void *arg)
{
	(void)arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	__atomic_store_n(&monitor_ready, 1, __ATOMIC_SEQ_CST);
	futex_wake_all(&monitor_ready, false);
	for (;;) {
		struct uffd_msg msg;
		ssize_t r = read(uffd, &msg, sizeof msg);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r != sizeof msg)
			fatal("userfaultfd monitor of process %d: read: %s", me, r < 0 ? errno_name(errno) : "short read");
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			fatal("userfaultfd monitor of process %d: unexpected event 0x%x", me, msg.event);
		uint64_t page = msg.arg.pagefault.address & ~(uint64_t)(PAGE - 1);
		if (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) {
			struct uffdio_writeprotect wp = {.range = {.start = page, .len = PAGE}, .mode = 0};
			uffd_ioctl_retrying(UFFDIO_WRITEPROTECT, &wp, "UFFDIO_WRITEPROTECT", page);
		} else {
			struct uffdio_copy copy = {.dst = page, .src = (uintptr_t)zero_page, .len = PAGE, .mode = 0};
			uffd_ioctl_retrying(UFFDIO_COPY, &copy, "UFFDIO_COPY", page);
		}
	}
	return NULL;
}

/* Starts the monitor thread on the stack prepared before the plan; its start-up faults (if
 * any) are the guest's, not the plan's. */
static void start_monitor(void)
{
	uint64_t begin = own_fault_count();
	pthread_attr_t attr;
	pthread_t thread;
	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, monitor_stack, MONITOR_STACK_SIZE);
	int e = pthread_create(&thread, &attr, monitor_main, NULL);
	if (e != 0)
		fatal("cannot start the userfaultfd monitor of process %d: %s", me, errno_name(e));
	pthread_attr_destroy(&attr);
	while (!__atomic_load_n(&monitor_ready, __ATOMIC_SEQ_CST))
		futex_wait(&monitor_ready, 0, false);
	count_guest_faults_since(begin);
}

/* Returns 0, or -1 with errno. */
static int uffd_register(const struct prog_line *l)
{
	if (uffd < 0) {
		int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
		if (fd < 0)
			return -1;
		struct uffdio_api api = {.api = UFFD_API, .features = l->uffd_features};
		if (ioctl(fd, UFFDIO_API, &api) != 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		uffd = fd;
		start_monitor();
	}
	struct uffdio_register reg = {.range = {.start = l->addr, .len = l->len}, .mode = l->uffd_mode};
	return ioctl(uffd, UFFDIO_REGISTER, &reg);
}

static int uffd_writeprotect(const struct prog_line *l)
{
	if (uffd < 0) {
		errno = EBADF;
		return -1;
	}
	struct uffdio_writeprotect wp = {.range = {.start = l->addr, .len = l->len}, .mode = l->uffd_mode};
	return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp);
}

static int uffd_unregister(const struct prog_line *l)
{
	if (uffd < 0) {
		errno = EBADF;
		return -1;
	}
	struct uffdio_range range = {.start = l->addr, .len = l->len};
	return ioctl(uffd, UFFDIO_UNREGISTER, &range);
}

/* ---- NUMA page migration (op migrate) and reclaim aging (op reclaim) ---- */

/* Buffers of move_pages(2), made before the plan (so locked, and copied at once after a
 * fork) and sized for the largest migrate op, or the guest check below: the kernel reads and
 * writes them with no fault. */
#define NUMA_CHECK_CHUNK 512
static void **mig_pages;    /* the pages of one call */
static int *mig_nodes;      /* their target nodes */
static int *mig_status;     /* move_pages' status of each */
static int *mig_where;      /* each page's node after the move */
static uint64_t mig_capacity;
static unsigned online_nodes; /* NUMA nodes Linux has online (1 without NUMA) */

static long move_pages_call(unsigned long count, void **pages, const int *nodes, int *status, int flags)
{
	return syscall(SYS_move_pages, 0, count, pages, nodes, status, flags);
}

/* The number of online nodes: the highest node of /sys/devices/system/node/online, plus one. */
static unsigned count_online_nodes(void)
{
	char buf[256];
	int fd = open("/sys/devices/system/node/online", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1; /* no NUMA */
	close(fd);
	read_text_file("/sys/devices/system/node/online", buf, sizeof buf);
	unsigned highest = 0;
	for (const char *p = buf; *p;) {
		if (*p >= '0' && *p <= '9') {
			char *end;
			unsigned long v = strtoul(p, &end, 10);
			if (v > highest)
				highest = (unsigned)v;
			p = end;
		} else {
			p++;
		}
	}
	return highest + 1;
}

/* Before the plan, with a numa line: Linux has the plan's nodes, automatic NUMA balancing is
 * off (its hinting faults would change the plan's entries behind its back; linux-check boots
 * with numa_balancing=disable), this CPU is on node 0 (so the guest's memory and the plan's
 * first-touch folios come from node 0, the default local policy), and the buffers exist. */
static void prepare_numa(void)
{
	uint64_t most = 0;
	for (unsigned i = 0; i < plan.nprog; i++) {
		const struct prog_line *l = &plan.prog[i];
		if (l->kind == LINE_OP && l->op == OP_MIGRATE) {
			if (!numa_nodes)
				program_error(l, "a plan that migrates needs a \"numa N\" line");
			uint64_t n = (l->len + PAGE - 1) / PAGE;
			if (n > most)
				most = n;
		}
	}
	if (!numa_nodes)
		return;
	online_nodes = count_online_nodes();
	if (online_nodes != numa_nodes) {
		if (init_mode)
			fatal("the plan wants %u NUMA nodes and Linux has %u online (/sys/devices/system/node/online)",
			      numa_nodes, online_nodes);
		say("warning: the plan wants %u NUMA nodes and this machine has %u: migrate moves pages %s", numa_nodes,
		    online_nodes, online_nodes < 2 ? "nowhere (to the node they are on)" : "among those");
	}
	if (init_mode) {
		char value[32];
		read_text_file("/proc/sys/kernel/numa_balancing", value, sizeof value);
		if (strcmp(value, "0\n") != 0 && strcmp(value, "0") != 0) {
			say("warning: automatic NUMA balancing is on (/proc/sys/kernel/numa_balancing %.8s): turning it off",
			    value);
			int fd = open("/proc/sys/kernel/numa_balancing", O_WRONLY | O_CLOEXEC);
			if (fd < 0 || write(fd, "0\n", 2) != 2)
				fatal("cannot turn off NUMA balancing: %s", errno_name(errno));
			close(fd);
		}
		unsigned cpu = 0, node = 0;
		if (syscall(SYS_getcpu, &cpu, &node, NULL) != 0)
			fatal("getcpu: %s", errno_name(errno));
		if (node != 0)
			fatal("the guest runs on CPU %u of node %u, not on node 0", cpu, node);
	}
	mig_capacity = most > NUMA_CHECK_CHUNK ? most : NUMA_CHECK_CHUNK;
	mig_pages = alloc_pages(mig_capacity * sizeof *mig_pages, "move_pages' page list");
	mig_nodes = alloc_pages(mig_capacity * sizeof *mig_nodes, "move_pages' node list");
	mig_status = alloc_pages(mig_capacity * sizeof *mig_status, "move_pages' status list");
	mig_where = alloc_pages(mig_capacity * sizeof *mig_where, "move_pages' second status list");
}

/* After the guest's memory is locked: is all of it on node 0? (A warning only: the plan's
 * pages are what is compared, and migrate moves each page away from wherever it is.) */
static void check_guest_memory_nodes(void)
{
	if (!numa_nodes || online_nodes < 2)
		return;
	uint64_t elsewhere = 0, first = 0;
	for (unsigned r = 0; r < nguest_ranges; r++)
		for (uintptr_t a = guest_ranges[r].start; a < guest_ranges[r].end;) {
			unsigned long n = 0;
			for (; n < NUMA_CHECK_CHUNK && a < guest_ranges[r].end; n++, a += PAGE)
				mig_pages[n] = (void *)a;
			if (move_pages_call(n, mig_pages, NULL, mig_status, 0) != 0)
				fatal("move_pages (query) of the guest's memory: %s", errno_name(errno));
			for (unsigned long i = 0; i < n; i++)
				if (mig_status[i] > 0 && !elsewhere++)
					first = (uintptr_t)mig_pages[i];
		}
	if (elsewhere)
		say("warning: %" PRIu64 " pages of the guest's own memory are not on node 0 (the first at 0x%" PRIx64 ")",
		    elsewhere, first);
}

/* op migrate: every page of the range that maps a folio moves to the node other than the one
 * it is on, with move_pages(2) and MPOL_MF_MOVE (a folio mapped by another process too stays:
 * EACCES). move_pages moves a page's whole folio, as the model's migration does; the second
 * page of a large folio reports EBUSY (its folio is isolated already, and is moved at once),
 * so success is checked by where every page is afterwards. Pages without a folio (not
 * present, the zero page) are left out, as the model's queue_pages_range leaves them. */
static int migrate_range(const struct prog_line *l)
{
	uint64_t total = (l->len + PAGE - 1) / PAGE;
	if (total > mig_capacity)
		fatal("plan line %u: internal error: migrate buffers too small", l->source_line);
	for (uint64_t i = 0; i < total; i++)
		mig_pages[i] = (void *)(uintptr_t)(l->addr + i * PAGE);
	if (move_pages_call(total, mig_pages, NULL, mig_status, 0) != 0)
		return -1;
	unsigned long n = 0;
	for (uint64_t i = 0; i < total; i++)
		if (mig_status[i] >= 0) {
			mig_pages[n] = mig_pages[i];
			mig_nodes[n] = online_nodes < 2 ? mig_status[i] : (mig_status[i] + 1) % (int)online_nodes;
			n++;
		}
	if (n == 0)
		return 0;
	long left = move_pages_call(n, mig_pages, mig_nodes, mig_status, MPOL_MF_MOVE);
	if (left < 0)
		return -1;
	if (move_pages_call(n, mig_pages, NULL, mig_where, 0) != 0)
		return -1;
	unsigned long moved = 0, shared = 0, stayed = 0;
	uintptr_t first = 0;
	int first_status = 0;
	for (unsigned long i = 0; i < n; i++) {
		if (mig_where[i] == mig_nodes[i])
			moved++;
		else if (mig_status[i] == -EACCES)
			shared++;
		else if (!stayed++) {
			first = (uintptr_t)mig_pages[i];
			first_status = mig_status[i];
		}
	}
	if (stayed)
		say("op %u failed: migrate: %lu of %lu pages not on their target node (the first at 0x%" PRIxPTR
		    ", status %d%s%s)",
		    l->prog_index, stayed, n, first, first_status, first_status < 0 ? " " : "",
		    first_status < 0 ? errno_name(-first_status) : "");
	else
		say("op %u migrate: %lu pages on their target node, %lu left (mapped by another process too)",
		    l->prog_index, moved, shared);
	return 0;
}

/* op reclaim: the model's reclaim aging (folio_referenced clearing the access flags of the
 * process's entries) as madvise(MADV_COLD), which clears them with clear_young_dirty_ptes
 * (CYDP_CLEAR_YOUNG) or pmd_mkold; see the top of this file for where the two differ. The
 * ENOMEM of a range with holes is no failure: the model ages the VMAs it finds, as madvise
 * does before it reports the holes. */
static int reclaim_range(const struct prog_line *l)
{
	if (madvise((void *)(uintptr_t)l->addr, l->len, MADV_COLD) != 0 && errno != ENOMEM)
		return -1;
	return 0;
}

/* ---- Accesses and signals ---- */

static const struct prog_line *volatile current_run; /* the run line being performed */
static volatile uintptr_t current_access;            /* the address of its current access */

static const char *access_name(enum access_kind a)
{
	return a == ACCESS_LOAD ? "load" : a == ACCESS_STORE ? "store" : "ifetch";
}

/* SIGSEGV or SIGBUS: an access of the plan failed (the simulator stops there too). */
static void on_fault_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	const struct prog_line *l = current_run;
	if (!l)
		fatal("unexpected SIG%s at address %p outside the plan's accesses", sigabbrev_np(sig), si->si_addr);
	fatal("plan line %u (program line %u, process %d): %s of %" PRIu64 " bytes at 0x%" PRIxPTR
	      " got SIG%s (fault address %p)%s",
	      l->source_line, l->prog_index, me, access_name(l->access), l->size, current_access,
	      sigabbrev_np(sig), si->si_addr,
	      l->access == ACCESS_IFETCH ? ": the page is not executable or not mapped" : "");
}

#ifdef __aarch64__
/* Branches and links to target. What is there is UNDEFINED (see the top of this file);
 * on_sigill returns to x30. */
static void branch_and_link(uintptr_t target)
{
	asm volatile("blr %0" : : "r"(target) : "x30", "memory");
}

/* The undefined instruction of an ifetch: go on at the link register, after the blr. */
static void on_sigill(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	ucontext_t *uc = ucv;
	const struct prog_line *l = current_run;
	if (!l || l->access != ACCESS_IFETCH || uc->uc_mcontext.pc != current_access)
		fatal("unexpected SIGILL at pc 0x%llx (address %p)", uc->uc_mcontext.pc, si->si_addr);
	uc->uc_mcontext.pc = uc->uc_mcontext.regs[30];
}
#endif

/* A signal delivered to itself: a fork's child maps its [vdso] anew, so the first signal
 * return through the vDSO's sigreturn trampoline faults there; delivering one in the guest's
 * own fault window (and before the plan) keeps that fault out of the plan's count. */
static void on_sigusr1(int sig)
{
	(void)sig;
}

static void exercise_signal_return(void)
{
	raise(SIGUSR1);
}

static void install_signal_handlers(void)
{
	stack_t ss = {.ss_sp = signal_stack, .ss_size = SIGNAL_STACK_SIZE, .ss_flags = 0};
	if (sigaltstack(&ss, NULL) != 0)
		fatal("sigaltstack: %s", errno_name(errno));
	struct sigaction sa = {.sa_sigaction = on_fault_signal, .sa_flags = SA_SIGINFO | SA_ONSTACK};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	struct sigaction usr1 = {.sa_handler = on_sigusr1, .sa_flags = SA_ONSTACK};
	sigemptyset(&usr1.sa_mask);
	sigaction(SIGUSR1, &usr1, NULL);
#ifdef __aarch64__
	sa.sa_sigaction = on_sigill;
	sigaction(SIGILL, &sa, NULL);
#endif
}

/* What a store writes (see the top of this file). */
#define STORED_BYTE 0x01

static void perform_run(const struct prog_line *l)
{
	current_run = l;
	for (uint64_t i = 0; i < l->count; i++) {
		uintptr_t va = (uintptr_t)(l->va + i * l->delta);
		uintptr_t last = va + (uintptr_t)l->size - 1;
		current_access = va;
		switch (l->access) {
		case ACCESS_LOAD:
			(void)*(volatile uint8_t *)va;
			if (last != va)
				(void)*(volatile uint8_t *)last;
			break;
		case ACCESS_STORE:
			*(volatile uint8_t *)va = STORED_BYTE;
			if (last != va)
				*(volatile uint8_t *)last = STORED_BYTE;
			break;
		case ACCESS_IFETCH:
#ifdef __aarch64__
			branch_and_link(va);
			break;
#else
			__builtin_unreachable(); /* refused by parse_run */
#endif
		}
	}
	current_run = NULL;
}

/* ---- System calls of the plan ---- */

/* Returns 0, or -1 with errno. */
static int perform_op(const struct prog_line *l)
{
	void *addr = (void *)(uintptr_t)l->addr;
	switch (l->op) {
	case OP_MMAP: {
		void *p = l->file >= 0 ? mmap(addr, l->len, l->prot, l->map_flags | MAP_FIXED_NOREPLACE, plan_files.fd[l->file],
					      (off_t)l->file_offset)
				       : mmap(addr, l->len, l->prot, MAP_ANONYMOUS | l->map_flags | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == MAP_FAILED)
			return -1;
		if (p != addr)
			fatal("plan line %u: the kernel ignored MAP_FIXED_NOREPLACE (mapped at %p)", l->source_line, p);
		return 0;
	}
	case OP_MUNMAP:
		return munmap(addr, l->len);
	case OP_MPROTECT:
		return mprotect(addr, l->len, l->prot);
	case OP_MADVISE:
		return madvise(addr, l->len, l->advice);
	case OP_MREMAP:
		return mremap(addr, l->len, l->len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)(uintptr_t)l->new_addr) ==
				       MAP_FAILED
			       ? -1
			       : 0;
	case OP_UFFD_REGISTER:
		return uffd_register(l);
	case OP_UFFD_WP:
		return uffd_writeprotect(l);
	case OP_UFFD_UNREGISTER:
		return uffd_unregister(l);
	case OP_MIGRATE:
		return migrate_range(l);
	case OP_RECLAIM:
		return reclaim_range(l);
	case OP_FORK:
	case OP_EXIT:
		break; /* steps of their own */
	}
	fatal("internal error: op of plan line %u performed as a plain call", l->source_line);
}

/* ---- Processes and the baton ---- */

static void wait_for_turn(uint32_t step)
{
	for (;;) {
		uint32_t t = __atomic_load_n(&sh->turn, __ATOMIC_SEQ_CST);
		if (t == step)
			return;
		if (t == TURN_ABORTED)
			stop_after_other_failure();
		futex_wait(&sh->turn, t, true);
	}
}

static void pass_turn(uint32_t step)
{
	__atomic_store_n(&sh->turn, step + 1, __ATOMIC_SEQ_CST);
	futex_wake_all(&sh->turn, true);
}

/* The fork line: returns true in the child, which is plan process l->child from now on. */
static bool fork_plan_process(const struct prog_line *l)
{
	uint64_t begin = own_fault_count();
	pid_t pid = fork();
	if (pid < 0)
		fatal("plan line %u: fork: %s", l->source_line, errno_name(errno));
	if (pid == 0) {
		me = l->child;
		return true;
	}
	sh->real_pid[l->child] = pid;
	lock_guest_memory(); /* the fork made the guest's pages copy-on-write: copy them now */
	count_guest_faults_since(begin);
	return false;
}

/* The child's first step: its own pagemap, no userfaultfd, its guest memory copied and locked.
 * Every fault it took since the fork (its count starts at 0) was the guest's. */
static void start_child(void)
{
	self_guest_faults = 0;
	if (uffd >= 0)
		close(uffd);
	uffd = -1;
	monitor_ready = 0;
	close(pagemap_fd);
	if ((pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) < 0)
		fatal("process %d: cannot open /proc/self/pagemap: %s", me, errno_name(errno));
	touch_shared_state();
	lock_guest_memory();
	exercise_signal_return();
	count_guest_faults_since(0);
}

__attribute__((noreturn)) static void exit_plan_process(uint32_t step)
{
	__atomic_add_fetch(&sh->exited_faults, plan_fault_count(), __ATOMIC_SEQ_CST);
	sh->faults_now[me] = 0;
	pass_turn(step);
	_exit(0);
}

static void reap(int target)
{
	pid_t pid = sh->real_pid[target];
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			fatal("cannot reap process %d (pid %d): %s", target, (int)pid, errno_name(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fatal("process %d (pid %d) ended abnormally (wait status 0x%x)", target, (int)pid, status);
	sh->real_pid[target] = 0;
}

__attribute__((noreturn)) static void end_plan(void)
{
	say("plan done");
	mmusim_done_hook(0);
	if (init_mode)
		power_off();
	_exit(0);
}

/* Runs one step of this process; returns true when the step made this process a new child
 * (which does not pass the turn: its parent does). */
static bool run_step(uint32_t s, const struct step *st)
{
	const struct prog_line *l = st->line;
	switch (st->kind) {
	case STEP_LINE:
		if (l->kind == LINE_RUN)
			perform_run(l);
		else if (l->op == OP_FORK)
			return fork_plan_process(l);
		else if (perform_op(l) != 0)
			say("op %u failed: errno %s", l->prog_index, errno_name(errno));
		break;
	case STEP_CHILD_START:
		start_child();
		break;
	case STEP_EXIT:
		exit_plan_process(s);
	case STEP_REAP:
		reap(st->target);
		break;
	case STEP_PUBLISH_FAULTS:
		sh->faults_now[me] = plan_fault_count();
		break;
	case STEP_REPORT:
		report_checkpoint(st);
		break;
	case STEP_DONE:
		end_plan();
	}
	return false;
}

/* Every process walks all steps and runs its own, each when the baton says so. */
__attribute__((noreturn)) static void walk_steps(void)
{
	for (uint32_t s = 0; s < plan.nsteps; s++) {
		const struct step *st = &plan.steps[s];
		if (st->owner != me)
			continue;
		wait_for_turn(s);
		if (!run_step(s, st))
			pass_turn(s);
	}
	fatal("internal error: process %d walked past the last step", me);
}

/* ---- Start-up ---- */

static void setup_console(void)
{
	if (fcntl(1, F_GETFD) >= 0 && fcntl(2, F_GETFD) >= 0)
		return;
	int fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

/* Runs the program again with ADDR_NO_RANDOMIZE (once): a heap right after the data, far from
 * the plan's regions. Without a way to re-execute (qemu-user without binfmt), goes on. */
static void reexec_without_randomization(char **argv)
{
	int persona = personality(0xffffffff);
	if (persona == -1 || (persona & ADDR_NO_RANDOMIZE))
		return;
	if (personality((unsigned long)persona | ADDR_NO_RANDOMIZE) == -1)
		return;
	execv(access("/proc/self/exe", F_OK) == 0 ? "/proc/self/exe" : argv[0], argv);
	say("warning: cannot re-execute without address randomization (%s); going on", errno_name(errno));
}

static void mount_filesystem(const char *type, const char *dir)
{
	if (mkdir(dir, 0555) != 0 && errno != EEXIST)
		fatal("mkdir %s: %s", dir, errno_name(errno));
	if (mount(type, dir, type, 0, NULL) != 0)
		fatal("mount %s on %s: %s", type, dir, errno_name(errno));
}

static void apply_sysfs_lines(void)
{
	for (unsigned i = 0; i < plan.nsysfs; i++) {
		const struct sysfs_setting *s = &plan.sysfs[i];
		char value[256];
		int n = snprintf(value, sizeof value, "%s\n", s->value);
		int fd = open(s->path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || n < 0 || (size_t)n >= sizeof value || write(fd, value, (size_t)n) != n)
			fatal("cannot write \"%s\" to %s: %s", s->value, s->path, errno_name(errno));
		close(fd);
	}
}

/* ---- Setting up the swap device (see "Swap" above) ---- */

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void write_sys_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t n = strlen(value);
	if (fd < 0 || write(fd, value, n) != (ssize_t)n)
		fatal("swap: cannot write \"%s\" to %s: %s", value, path, errno_name(errno));
	close(fd);
}

/* The modules listed in /lib/modules/order, loaded in that order (none when the file is
 * absent). A module already there (EEXIST) is fine. Returns how many were listed. */
static unsigned load_guest_modules(void)
{
	static char order[4096];
	if (access(MODULES_ORDER, F_OK) != 0)
		return 0;
	read_text_file(MODULES_ORDER, order, sizeof order);
	unsigned count = 0;
	for (char *name = order; *name;) {
		char *nl = strchr(name, '\n');
		if (nl)
			*nl = '\0';
		if (*name) {
			char path[320];
			snprintf(path, sizeof path, "/lib/modules/%.300s", name);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				fatal("swap: cannot open the module %s: %s", path, errno_name(errno));
			if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
				fatal("swap: cannot load the module %s (finit_module): %s", path, errno_name(errno));
			close(fd);
			count++;
		}
		name = nl ? nl + 1 : name + strlen(name);
	}
	return count;
}

/* The bracketed name of a sysfs choice list ("lzo [lz4] zstd" -> "lz4"), into out. */
static void chosen_name(const char *list, char *out, size_t size)
{
	const char *a = strchr(list, '['), *b = a ? strchr(a, ']') : NULL;
	if (!a || !b)
		snprintf(out, size, "?");
	else
		snprintf(out, size, "%.*s", (int)(b - a - 1), a + 1);
}

static void setup_swap(void)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned nmodules = load_guest_modules();
	if (access(ZRAM_SYS, F_OK) != 0)
		fatal("swap: the plan pages out to zram, and this kernel has no zram device (%s does not exist): %s",
		      ZRAM_SYS,
		      nmodules ? "the modules of " MODULES_ORDER " loaded, but made none"
			       : "zram is not built in (CONFIG_ZRAM=y), and the initramfs has no modules "
				 "(linux-check adds Debian's zram module for its own kernel only)");
	if (access(ZSWAP_ENABLED, F_OK) == 0)
		write_sys_file(ZSWAP_ENABLED, "N\n");
	if (access(ZRAM_DEV, F_OK) != 0)
		mount_filesystem("devtmpfs", "/dev");
	if (access(ZRAM_DEV, F_OK) != 0)
		fatal("swap: %s does not exist, with devtmpfs mounted on /dev", ZRAM_DEV);

	static char text[256];
	char comp[64], value[32];
	read_text_file(ZRAM_SYS "/comp_algorithm", text, sizeof text);
	chosen_name(text, comp, sizeof comp);
	snprintf(value, sizeof value, "%" PRIu64 "\n", swap_plan.bytes);
	write_sys_file(ZRAM_SYS "/disksize", value);

	/* mkswap's header (include/linux/swap.h union swap_header): bootbits[1024], then version,
	 * last_page, nr_badpages (u32 each), uuid[16], volume_name[16]; the magic ends the page. */
	static uint8_t header[PAGE] __attribute__((aligned(PAGE)));
	memset(header, 0, sizeof header);
	uint32_t info[3] = {1, (uint32_t)(swap_plan.bytes / PAGE - 1), 0};
	memcpy(header + 1024, info, sizeof info);
	memcpy(header + PAGE - 10, "SWAPSPACE2", 10);
	int fd = open(ZRAM_DEV, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fatal("swap: cannot open %s: %s", ZRAM_DEV, errno_name(errno));
	ssize_t w = pwrite(fd, header, sizeof header, 0);
	if (w != (ssize_t)sizeof header || fsync(fd) != 0)
		fatal("swap: cannot write the swap header to %s: %s", ZRAM_DEV,
		      w < 0 || w == (ssize_t)sizeof header ? errno_name(errno) : "short write");
	close(fd);
	if (syscall(SYS_swapon, ZRAM_DEV, 0) != 0)
		fatal("swap: swapon %s: %s", ZRAM_DEV, errno_name(errno));
	say("swap: %s of 0x%" PRIx64 " bytes (%s) on, %u modules loaded, in %.3f s", ZRAM_DEV, swap_plan.bytes, comp,
	    nmodules, seconds_since(&t0));
}

/* Everything the plan needs, made before it starts; then the guest's memory is locked. */
static void prepare(bool write_sysfs)
{
	/* PID 1 reaps orphans anyway; a test run becomes their reaper (qemu-user cannot). */
	if (!init_mode && prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		say("warning: prctl(PR_SET_CHILD_SUBREAPER): %s: a plan process whose parent exited cannot be reaped",
		    errno_name(errno));
	reserve_heap();
	page_states = alloc_pages(plan.npages * sizeof *page_states + PAGE, "the checkpoint's pages");
	folio_states = alloc_pages(plan.npages * sizeof *folio_states + PAGE, "the checkpoint's folios");
	signal_stack = alloc_pages(SIGNAL_STACK_SIZE, "the signal stack");
	monitor_stack = alloc_pages(MONITOR_STACK_SIZE, "the monitor thread's stack");
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		fatal("cannot allocate the shared page: %s", errno_name(errno));
	touch_shared_state();

	if ((pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) < 0)
		fatal("cannot open /proc/self/pagemap: %s", errno_name(errno));
	if ((kpageflags_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC)) < 0) {
		if (init_mode)
			fatal("cannot open /proc/kpageflags: %s", errno_name(errno));
		say("warning: cannot open /proc/kpageflags (%s): no kpageflags or folios", errno_name(errno));
	}
	install_signal_handlers();
	exercise_signal_return();
	prepare_numa();

	keep_guest_memory_small();
	if (write_sysfs)
		apply_sysfs_lines();
	if (swap_plan.wanted && init_mode)
		setup_swap();
	create_files();
	find_thp_stat_sources();
	find_vmstat_sources();
	touch_stack_area();
	record_guest_memory();
	lock_guest_memory();
	check_regions_outside_guest();
	check_guest_memory_nodes();
}

int main(int argc, char **argv)
{
	init_mode = getpid() == 1;
	const char *plan_path = "/plan";
	bool write_sysfs = init_mode;
	if (init_mode) {
		setup_console();
	} else {
		int a = 1;
		if (a < argc && strcmp(argv[a], "--sysfs") == 0) {
			write_sysfs = true;
			a++;
		}
		if (a + 1 != argc) {
			fprintf(stderr, "usage: %s [--sysfs] PLAN   (a test run; as PID 1 it runs /plan)\n", argv[0]);
			return 2;
		}
		plan_path = argv[a];
	}
	reexec_without_randomization(argv);
	if (init_mode) {
		mount_filesystem("proc", "/proc");
		mount_filesystem("sysfs", "/sys");
	}
	if (sysconf(_SC_PAGESIZE) != PAGE)
		fatal("the page size is %ld, not 4096", sysconf(_SC_PAGESIZE));

	read_plan(plan_path);
	parse_plan();
	plan_steps();
	say("plan: %u program lines, %u regions, %" PRIu64 " pages, %" PRIu32 " steps", plan.nprog, plan.nregions,
	    plan.npages, plan.nsteps);
	prepare(write_sysfs);
	seal_plan();

	take_counter_baseline();
	self_guest_faults = own_fault_count();
	me = 0;
	walk_steps();
}
