#include "models/arch/tlbi.h"

namespace mmusim::arch {

std::string_view tlbi_name(TlbiOp op) {
    switch (op) {
        case TlbiOp::VALE1IS: return "VALE1IS";
        case TlbiOp::VAE1IS: return "VAE1IS";
        case TlbiOp::RVALE1IS: return "RVALE1IS";
        case TlbiOp::RVAE1IS: return "RVAE1IS";
        case TlbiOp::ASIDE1IS: return "ASIDE1IS";
        case TlbiOp::VALE1: return "VALE1";
        case TlbiOp::VAE1: return "VAE1";
        case TlbiOp::RVALE1: return "RVALE1";
        case TlbiOp::ASIDE1: return "ASIDE1";
        case TlbiOp::VAALE1IS: return "VAALE1IS";
        case TlbiOp::RVAALE1IS: return "RVAALE1IS";
        case TlbiOp::VMALLE1IS: return "VMALLE1IS";
        case TlbiOp::Count: break;
    }
    return "?";
}

bool tlbi_is_broadcast(TlbiOp op) {
    switch (op) {
        case TlbiOp::VALE1: case TlbiOp::VAE1: case TlbiOp::RVALE1: case TlbiOp::ASIDE1: return false;
        default: return true;
    }
}

bool tlbi_is_range(TlbiOp op) {
    return op == TlbiOp::RVALE1IS || op == TlbiOp::RVAE1IS || op == TlbiOp::RVALE1 || op == TlbiOp::RVAALE1IS;
}

}  // namespace mmusim::arch
