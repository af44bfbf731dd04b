/* mmusim_trace: a QEMU user-mode TCG plugin that writes the memory trace of
 * an arm64 program in lackey's line format, with '@' extension lines for the
 * initial address space and for every system call (traces/README.md,
 * "arm64 traces (qemu-user)", describes the format).
 *
 *   qemu-aarch64 -d page -D PAGELOG \
 *       -plugin mmusim_trace.so,out=FILE,pagelog=PAGELOG[,sysroot=DIR][,max=N][,stats=FILE] \
 *       PROGRAM ...
 *
 *   out=FILE      where the trace goes (a FIFO or a regular file)
 *   pagelog=FILE  the file named by qemu's -D with -d page: its last page
 *                 table dump before the first guest instruction gives the
 *                 initial mappings and their guest protections
 *   sysroot=DIR   the -L directory: removed from the front of file names
 *   max=N         stop the program (exit status 0) after N I/L/S records
 *   stats=FILE    at the end, "records N" and "capped 0|1" lines go there
 *
 * Output is built in a large buffer with hand-written hex formatting and
 * written with write(2) when full; a mutex serialises the guest threads
 * (each is a host thread in qemu-user). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arm64_syscalls.h"
#include "qemu_plugin_api.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

enum { kBufferSize = 8 << 20, kOutFdMin = 900, kPageSize = 4096 };

enum {
    kNrExit = 93,
    kNrExitGroup = 94,
    kNrClone = 220,
    kNrMmap = 222,
    kNrClone3 = 435,
    kMapAnonymous = 0x20,
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *buffer;
static size_t used;
static int out_fd = -1;
static int failed;           /* a write failed: keep quiet from then on */
static int silent;           /* a forked child: writes nothing */
static pid_t traced_pid;
static uint64_t max_records; /* 0: no cap */
static uint64_t records;
static int maps_written;
static const char *sysroot = "";
static size_t sysroot_len;
static const char *pagelog;
static const char *stats_path;

/* The system call in progress on this thread, kept from entry to return. */
static __thread int64_t sys_num = -1;
static __thread uint64_t sys_args[6];

static const char hex_digits[] = "0123456789abcdef";

static void die(const char *what) {
    char text[512];
    int n = snprintf(text, sizeof text, "mmusim_trace: %s\n", what);
    if (n > 0) {
        ssize_t ignored = write(2, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
        (void)ignored;
    }
    _exit(125);
}

static void flush_buffer(void) {
    size_t done = 0;
    while (done < used && !failed) {
        ssize_t n = write(out_fd, buffer + done, used - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            failed = 1; /* e.g. the reader went away: drop the rest */
            break;
        }
        done += (size_t)n;
    }
    used = 0;
}

static inline void reserve(size_t n) {
    if (used + n > kBufferSize) {
        flush_buffer();
    }
}

/* Hex without 0x, lower case, at least `width` digits. */
static inline char *put_hex(char *p, uint64_t v, int width) {
    int digits = 1;
    for (uint64_t t = v >> 4; t != 0; t >>= 4) {
        ++digits;
    }
    if (digits < width) {
        digits = width;
    }
    for (int i = digits - 1; i >= 0; --i) {
        p[i] = hex_digits[v & 15];
        v >>= 4;
    }
    return p + digits;
}

static inline char *put_dec(char *p, uint64_t v) {
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) {
        *p++ = tmp[--n];
    }
    return p;
}

static inline char *put_str(char *p, const char *s) {
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static void write_stats(int capped) {
    if (stats_path == NULL) {
        return;
    }
    int fd = open(stats_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return;
    }
    char text[64];
    int n = snprintf(text, sizeof text, "records %llu\ncapped %d\n", (unsigned long long)records,
                     capped);
    if (n > 0) {
        ssize_t ignored = write(fd, text, (size_t)n);
        (void)ignored;
    }
    close(fd);
}

/* Called with the lock held after each record. */
static inline void count_record(void) {
    if (++records == max_records) {
        flush_buffer();
        write_stats(1);
        _exit(0);
    }
}

static inline void put_record(char kind, uint64_t va, unsigned size) {
    reserve(48);
    char *p = buffer + used;
    if (kind == 'I') {
        *p++ = 'I';
        *p++ = ' ';
        *p++ = ' ';
    } else {
        *p++ = ' ';
        *p++ = kind;
        *p++ = ' ';
    }
    p = put_hex(p, va, 8);
    *p++ = ',';
    p = put_dec(p, size);
    *p++ = '\n';
    used = (size_t)(p - buffer);
    count_record();
}

/* ---- the initial address space: @map lines ---- */

struct range {
    uint64_t start, end;
    char prot[4];
};

/* The last page table dump in qemu's -d page log, and start_stack and brk. */
static size_t read_page_dump(struct range **out, uint64_t *start_stack, uint64_t *brk) {
    FILE *f = fopen(pagelog, "re");
    if (f == NULL) {
        die("cannot read the -d page log named by pagelog=");
    }
    struct range *ranges = NULL;
    size_t n = 0, cap = 0;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long long a, b, size, v;
        char prot[8];
        if (strncmp(line, "start            end", 20) == 0) {
            n = 0; /* a new dump begins: only the last one counts */
        } else if (sscanf(line, "%llx-%llx %llx %7s", &a, &b, &size, prot) == 4 &&
                   strlen(prot) == 3) {
            if (n == cap) {
                cap = cap != 0 ? 2 * cap : 64;
                ranges = realloc(ranges, cap * sizeof *ranges);
                if (ranges == NULL) {
                    die("out of memory");
                }
            }
            ranges[n].start = a;
            ranges[n].end = b;
            memcpy(ranges[n].prot, prot, 4);
            ++n;
        } else if (sscanf(line, "start_stack %llx", &v) == 1) {
            *start_stack = v;
        } else if (sscanf(line, "brk %llx", &v) == 1) {
            *brk = v;
        }
    }
    fclose(f);
    *out = ranges;
    return n;
}

struct host_map {
    uint64_t start, end, offset;
    char perms[5];
    char path[PATH_MAX];
};

/* Host mappings from /proc/self/maps, in address order. */
static size_t read_host_maps(struct host_map **out) {
    FILE *f = fopen("/proc/self/maps", "re");
    if (f == NULL) {
        die("cannot read /proc/self/maps");
    }
    struct host_map *maps = NULL;
    size_t n = 0, cap = 0;
    char line[PATH_MAX + 128];
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long long a, b, off;
        char perms[8];
        int consumed = 0;
        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s%n", &a, &b, perms, &off, &consumed) < 4 ||
            consumed == 0) {
            continue;
        }
        if (n == cap) {
            cap = cap != 0 ? 2 * cap : 256;
            maps = realloc(maps, cap * sizeof *maps);
            if (maps == NULL) {
                die("out of memory");
            }
        }
        struct host_map *m = &maps[n++];
        m->start = a;
        m->end = b;
        m->offset = off;
        memcpy(m->perms, perms, 4);
        m->perms[4] = '\0';
        const char *p = line + consumed;
        while (*p == ' ') {
            ++p;
        }
        size_t len = strcspn(p, "\n");
        if (len >= sizeof m->path) {
            len = sizeof m->path - 1;
        }
        memcpy(m->path, p, len);
        m->path[len] = '\0';
    }
    fclose(f);
    *out = maps;
    return n;
}

/* A host file name as the guest sees it: without the sysroot in front. */
static const char *guest_path(const char *path) {
    if (sysroot_len != 0 && strncmp(path, sysroot, sysroot_len) == 0 && path[sysroot_len] == '/') {
        return path + sysroot_len;
    }
    return path;
}

static void put_map(uint64_t start, uint64_t end, const char *prot, char shared, uint64_t offset,
                    const char *name) {
    reserve(128 + strlen(name));
    char *p = buffer + used;
    p = put_str(p, "@map ");
    p = put_hex(p, start, 8);
    *p++ = ' ';
    p = put_hex(p, end, 8);
    *p++ = ' ';
    memcpy(p, prot, 3);
    p += 3;
    *p++ = shared;
    *p++ = ' ';
    p = put_hex(p, offset, 8);
    *p++ = ' ';
    p = put_str(p, name);
    *p++ = '\n';
    used = (size_t)(p - buffer);
}

/* Writes one @map line per piece of guest memory: the guest's ranges and
 * protections from qemu's page table dump, cut where the host mappings
 * behind them (at guest address + guest_base) change, which name the file
 * and its offset. */
static void write_maps(uint64_t guest_base) {
    struct range *ranges;
    uint64_t start_stack = 0, brk = 0;
    size_t nr = read_page_dump(&ranges, &start_stack, &brk);
    if (nr == 0) {
        die("no page table dump in the -d page log (was qemu run with -d page -D PAGELOG?)");
    }
    struct host_map *maps;
    size_t nm = read_host_maps(&maps);
    uint64_t heap_start = (brk + kPageSize - 1) & ~(uint64_t)(kPageSize - 1);
    for (size_t i = 0; i < nr; ++i) {
        uint64_t at = ranges[i].start;
        while (at < ranges[i].end) {
            const struct host_map *m = NULL;
            for (size_t j = 0; j < nm; ++j) {
                if (maps[j].start <= at + guest_base && at + guest_base < maps[j].end) {
                    m = &maps[j];
                    break;
                }
            }
            uint64_t end = ranges[i].end;
            char shared = 'p';
            uint64_t offset = 0;
            const char *name = "-";
            int file = 0;
            if (m != NULL) {
                if (m->end - guest_base < end) {
                    end = m->end - guest_base;
                }
                shared = m->perms[3] == 's' ? 's' : 'p';
                file = m->path[0] == '/';
                if (file) {
                    offset = m->offset + (at + guest_base - m->start);
                    name = guest_path(m->path);
                }
            } else {
                /* Not backed by a host mapping (never seen): up to the next one. */
                for (size_t j = 0; j < nm; ++j) {
                    if (maps[j].start > at + guest_base && maps[j].start - guest_base < end) {
                        end = maps[j].start - guest_base;
                    }
                }
            }
            if (!file) {
                if (at <= start_stack && start_stack < end) {
                    name = "[stack]";
                } else if (brk != 0 && at == heap_start) {
                    name = "[heap]";
                } else if (ranges[i].prot[2] == 'x') {
                    /* qemu 7.2's signal return trampoline page, where Linux has the vDSO */
                    name = "[vdso]";
                }
            }
            put_map(at, end, ranges[i].prot, shared, offset, name);
            at = end;
        }
    }
    free(maps);
    free(ranges);
}

/* ---- callbacks ---- */

static void insn_exec(unsigned int vcpu_index, void *userdata) {
    (void)vcpu_index;
    uint64_t v = (uint64_t)(uintptr_t)userdata;
    pthread_mutex_lock(&lock);
    if (!silent) {
        put_record('I', v & ((UINT64_C(1) << 56) - 1), (unsigned)(v >> 56));
    }
    pthread_mutex_unlock(&lock);
}

static void mem_access(unsigned int vcpu_index, qemu_plugin_meminfo_t info, uint64_t vaddr,
                       void *userdata) {
    (void)vcpu_index;
    (void)userdata;
    unsigned size = 1u << qemu_plugin_mem_size_shift(info);
    char kind = qemu_plugin_mem_is_store(info) ? 'S' : 'L';
    pthread_mutex_lock(&lock);
    if (!silent) {
        put_record(kind, vaddr, size);
    }
    pthread_mutex_unlock(&lock);
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    if (!maps_written && n > 0) {
        /* The first block is translated before any guest instruction runs. */
        pthread_mutex_lock(&lock);
        if (!maps_written) {
            struct qemu_plugin_insn *first = qemu_plugin_tb_get_insn(tb, 0);
            uint64_t guest_base = (uint64_t)(uintptr_t)qemu_plugin_insn_haddr(first) -
                                  qemu_plugin_insn_vaddr(first);
            write_maps(guest_base);
            maps_written = 1;
        }
        pthread_mutex_unlock(&lock);
    }
    for (size_t i = 0; i < n; ++i) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t va = qemu_plugin_insn_vaddr(insn);
        uint64_t size = qemu_plugin_insn_size(insn);
        void *userdata = (void *)(uintptr_t)(va | size << 56);
        qemu_plugin_register_vcpu_insn_exec_cb(insn, insn_exec, QEMU_PLUGIN_CB_NO_REGS, userdata);
        qemu_plugin_register_vcpu_mem_cb(insn, mem_access, QEMU_PLUGIN_CB_NO_REGS,
                                         QEMU_PLUGIN_MEM_RW, NULL);
    }
}

/* "@sys NAME A0 A1 A2 A3 A4 A5", then " = RESULT" unless the call never returns. */
static char *put_sys_head(char *p, int64_t num) {
    p = put_str(p, "@sys ");
    if (num >= 0 && num < ARM64_SYSCALL_COUNT && arm64_syscall_names[num] != NULL) {
        p = put_str(p, arm64_syscall_names[num]);
    } else {
        p = put_str(p, "sys_");
        if (num < 0) {
            *p++ = '-';
        }
        p = put_dec(p, num < 0 ? (uint64_t)0 - (uint64_t)num : (uint64_t)num);
    }
    for (int i = 0; i < 6; ++i) {
        *p++ = ' ';
        p = put_hex(p, sys_args[i], 1);
    }
    return p;
}

static void syscall_entry(qemu_plugin_id_t id, unsigned int vcpu_index, int64_t num, uint64_t a1,
                          uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6,
                          uint64_t a7, uint64_t a8) {
    (void)id;
    (void)vcpu_index;
    (void)a7;
    (void)a8;
    sys_num = num;
    sys_args[0] = a1;
    sys_args[1] = a2;
    sys_args[2] = a3;
    sys_args[3] = a4;
    sys_args[4] = a5;
    sys_args[5] = a6;
    if (num == kNrExit || num == kNrExitGroup || num == kNrClone || num == kNrClone3) {
        pthread_mutex_lock(&lock);
        if (!silent) {
            if (num == kNrExit || num == kNrExitGroup) {
                /* Never returns: the line is written now, without a result. */
                reserve(256);
                char *p = put_sys_head(buffer + used, num);
                *p++ = '\n';
                used = (size_t)(p - buffer);
            }
            /* Before a fork, so that the child does not inherit unwritten output. */
            flush_buffer();
        }
        pthread_mutex_unlock(&lock);
    }
}

static void syscall_return(qemu_plugin_id_t id, unsigned int vcpu_index, int64_t num,
                           int64_t ret) {
    (void)id;
    (void)vcpu_index;
    if ((num == kNrClone || num == kNrClone3) && ret == 0 && getpid() != traced_pid) {
        /* The child of a fork: only the first process is traced. */
        silent = 1;
        return;
    }
    char path[PATH_MAX];
    path[0] = '\0';
    if (num == kNrMmap && ret >= 0 && sys_num == num && (sys_args[3] & kMapAnonymous) == 0 &&
        (int32_t)sys_args[4] >= 0) {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", (int)(int32_t)sys_args[4]);
        ssize_t n = readlink(link, path, sizeof path - 1);
        path[n > 0 ? n : 0] = '\0';
    }
    pthread_mutex_lock(&lock);
    if (!silent) {
        reserve(256 + PATH_MAX);
        char *p = put_sys_head(buffer + used, num);
        p = put_str(p, " = ");
        if (ret < 0 && ret >= -4095) {
            *p++ = '-';
            p = put_dec(p, (uint64_t)(-ret));
        } else {
            p = put_hex(p, (uint64_t)ret, 1);
        }
        if (path[0] != '\0') {
            *p++ = ' ';
            p = put_str(p, guest_path(path));
        }
        *p++ = '\n';
        used = (size_t)(p - buffer);
    }
    pthread_mutex_unlock(&lock);
    sys_num = -1;
}

static void at_exit(qemu_plugin_id_t id, void *userdata) {
    (void)id;
    (void)userdata;
    pthread_mutex_lock(&lock);
    if (!silent) {
        flush_buffer();
        write_stats(0);
    }
    pthread_mutex_unlock(&lock);
}

static int parse_u64(const char *text, uint64_t *value) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-') {
        return -1;
    }
    *value = v;
    return 0;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                           char **argv) {
    const char *out = NULL;
    if (info->system_emulation || strcmp(info->target_name, "aarch64") != 0) {
        fprintf(stderr, "mmusim_trace: wants qemu-aarch64 user mode, got %s%s\n",
                info->target_name, info->system_emulation ? " system emulation" : "");
        return -1;
    }
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i];
        if (strncmp(a, "out=", 4) == 0) {
            out = a + 4;
        } else if (strncmp(a, "pagelog=", 8) == 0) {
            pagelog = a + 8;
        } else if (strncmp(a, "sysroot=", 8) == 0) {
            sysroot = a + 8;
        } else if (strncmp(a, "stats=", 6) == 0) {
            stats_path = a + 6;
        } else if (strncmp(a, "max=", 4) == 0) {
            if (parse_u64(a + 4, &max_records) != 0) {
                fprintf(stderr, "mmusim_trace: max= wants a number, got '%s'\n", a + 4);
                return -1;
            }
        } else {
            fprintf(stderr, "mmusim_trace: unknown argument '%s'\n", a);
            return -1;
        }
    }
    if (out == NULL || pagelog == NULL) {
        fprintf(stderr, "mmusim_trace: out=FILE and pagelog=FILE are required\n");
        return -1;
    }
    sysroot_len = strlen(sysroot);
    while (sysroot_len > 0 && sysroot[sysroot_len - 1] == '/') {
        --sysroot_len;
    }
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "mmusim_trace: cannot open %s: %s\n", out, strerror(errno));
        return -1;
    }
    /* Far from the low numbers that the guest's own files get. */
    out_fd = fcntl(fd, F_DUPFD_CLOEXEC, kOutFdMin);
    if (out_fd < 0) {
        out_fd = fd;
    } else {
        close(fd);
    }
    buffer = malloc(kBufferSize);
    if (buffer == NULL) {
        fprintf(stderr, "mmusim_trace: out of memory\n");
        return -1;
    }
    traced_pid = getpid();
    char *p = put_str(buffer, "@trace arm64 ");
    p = put_dec(p, kPageSize);
    *p++ = '\n';
    used = (size_t)(p - buffer);

    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_vcpu_syscall_cb(id, syscall_entry);
    qemu_plugin_register_vcpu_syscall_ret_cb(id, syscall_return);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
