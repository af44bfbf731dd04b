// An address space (mm_struct) and its VMAs.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace mmusim::kernel {

// VMA flags that the modelled paths consult (the VM_* bits of Linux).
struct VmFlags {
    bool read = true, write = true, exec = true;
    bool shared = false;
};

struct Vma {
    std::uint64_t start = 0, end = 0;  // [start, end)
    VmFlags flags;
    std::uint64_t page_prot = 0;       // vm_page_prot: the PTE attributes of a new mapping
    bool anonymous = true;
    std::string name;
    bool contains(std::uint64_t va) const { return va >= start && va < end; }
};

struct Mm {
    std::uint64_t pgd_pa = 0;  // TTBR0
    std::uint16_t asid = 0;
    bool user = true;          // mm_is_user(): false for init_mm and efi_mm
    std::map<std::uint64_t, Vma> vmas;  // by start address

    const Vma* find_vma(std::uint64_t va) const {
        auto it = vmas.upper_bound(va);
        if (it == vmas.begin()) return nullptr;
        --it;
        return it->second.contains(va) ? &it->second : nullptr;
    }
};

}  // namespace mmusim::kernel
