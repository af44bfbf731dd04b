#include "workloads/lackey_line.h"

namespace mmusim::workloads {

const char* lackey_line_problem(LackeyLine result) {
    switch (result) {
        case LackeyLine::Record: return "no problem";
        case LackeyLine::Other: return "not a record";
        case LackeyLine::BadIfetch: return "an instruction fetch is 'I' followed by two spaces";
        case LackeyLine::NoAddress: return "no hex address where the address belongs (hex digits 0-9, a-f)";
        case LackeyLine::LongAddress: return "the address has more than 16 hex digits";
        case LackeyLine::NoComma: return "the address is not followed by a comma";
        case LackeyLine::NoSize: return "the decimal size after the comma is missing";
        case LackeyLine::ZeroSize: return "the size is 0, which lackey never writes";
        case LackeyLine::LargeSize: return "the size is larger than 65536 bytes";
        case LackeyLine::TrailingText: return "there is more text after the size";
        case LackeyLine::LongLine: return "the line is longer than 1 MiB";
    }
    return "unknown problem";
}

}  // namespace mmusim::workloads
