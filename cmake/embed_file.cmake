# Turns one file into a C++ source file holding its bytes, for files the program carries inside
# it. Run in script mode:
#   cmake -DINPUT=file -DOUTPUT=out.cpp -DSYMBOL=name -P embed_file.cmake
# The generated file defines, in namespace mmusim::embedded,
#   extern const unsigned char NAME[];   // the bytes, followed by one 0 byte
#   extern const std::size_t NAME_size;  // the number of bytes, without that 0
# (declared in sim/embedded.h). The output is written aside and renamed, so that an
# interrupted build never leaves half a file that looks up to date.
foreach(var INPUT OUTPUT SYMBOL)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed_file.cmake: -D${var}=... is required")
  endif()
endforeach()

file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
# Twenty bytes a line: "0x2f,0x2a,...".
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REPEAT "0x[0-9a-f][0-9a-f]," 20 twenty)
string(REGEX REPLACE "(${twenty})" "\\1\n" bytes "${bytes}")
cmake_path(GET INPUT FILENAME input_name)

file(WRITE "${OUTPUT}.tmp"
"// Generated from ${input_name} by cmake/embed_file.cmake at build time: do not edit.
#include <cstddef>

namespace mmusim::embedded {

extern const unsigned char ${SYMBOL}[] = {
${bytes}0x00};
extern const std::size_t ${SYMBOL}_size = ${size};

}  // namespace mmusim::embedded
")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
