// The lackey trace reader and the compressed input under it.
#include "workloads/lackey_reader.h"

#include <gtest/gtest.h>
#include <lzma.h>
#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "workloads/compressed_input.h"
#include "workloads/workload_error.h"

namespace mmusim::workloads {
namespace {

namespace fs = std::filesystem;

// Compares record streams, reporting the first difference rather than two huge vectors.
::testing::AssertionResult same_records(const std::vector<Record>& got,
                                        const std::vector<Record>& want) {
    for (std::size_t i = 0; i < got.size() && i < want.size(); ++i) {
        const Record& a = got[i];
        const Record& b = want[i];
        if (a.va != b.va || a.size != b.size || a.kind != b.kind) {
            return ::testing::AssertionFailure()
                   << "record " << i << " is va 0x" << std::hex << a.va << std::dec << " size "
                   << a.size << " kind " << static_cast<int>(a.kind) << ", expected va 0x"
                   << std::hex << b.va << std::dec << " size " << b.size << " kind "
                   << static_cast<int>(b.kind);
        }
    }
    if (got.size() != want.size()) {
        return ::testing::AssertionFailure()
               << got.size() << " records instead of " << want.size();
    }
    return ::testing::AssertionSuccess();
}

std::string gzip_bytes(const std::string& text) {
    z_stream z{};
    EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    std::string out(deflateBound(&z, static_cast<uLong>(text.size())), '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    z.avail_in = static_cast<uInt>(text.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

std::string xz_bytes(const std::string& text) {
    std::string out(lzma_stream_buffer_bound(text.size()), '\0');
    std::size_t used = 0;
    EXPECT_EQ(lzma_easy_buffer_encode(1, LZMA_CHECK_CRC64, nullptr,
                                      reinterpret_cast<const std::uint8_t*>(text.data()),
                                      text.size(), reinterpret_cast<std::uint8_t*>(out.data()),
                                      &used, out.size()),
              LZMA_OK);
    out.resize(used);
    return out;
}

std::string zstd_bytes(const std::string& text) {
    std::string out(ZSTD_compressBound(text.size()), '\0');
    const std::size_t used = ZSTD_compress(out.data(), out.size(), text.data(), text.size(), 3);
    EXPECT_FALSE(ZSTD_isError(used));
    out.resize(used);
    return out;
}

// A text of `count` records of every kind whose lines vary in length, so that records fall
// across the reader's buffer boundaries at many different places. Header and other lines are
// sprinkled in.
std::string big_trace(std::size_t count, std::vector<Record>* expected) {
    std::string text = "==4242== Lackey, an example Valgrind tool\n==4242== Command: ./a.out\n";
    std::uint64_t va = 0x4017e40;
    for (std::size_t i = 0; i < count; ++i) {
        va = va * 6364136223846793005ULL + 1442695040888963407ULL;
        const std::uint64_t shown = va >> (i % 29);
        const auto size = static_cast<std::uint32_t>(1 + (i * 7) % 4096);
        static const char* const kPrefix[] = {"I  ", " L ", " S ", " M "};
        static const AccessKind kKinds[] = {AccessKind::Ifetch, AccessKind::Load,
                                            AccessKind::Store, AccessKind::Modify};
        char line[64];
        std::snprintf(line, sizeof line, i % 3 == 0 ? "%s%08llx,%u\n" : "%s%llX,%u\n",
                      kPrefix[i % 4], static_cast<unsigned long long>(shown), size);
        text += line;
        expected->push_back(Record{shown, size, kKinds[i % 4]});
        if (i % 10007 == 0) {
            text += "SYSCALL[4242,1](39) sys_getpid ( )[sync] --> Success(0x1092) \n";
        }
    }
    return text;
}

class LackeyTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "mmusim-lackey-XXXXXX").string();
        ASSERT_NE(mkdtemp(pattern.data()), nullptr);
        m_dir = pattern;
    }
    void TearDown() override { fs::remove_all(m_dir); }

    std::string write(const std::string& name, const std::string& bytes) {
        const std::string path = (m_dir / name).string();
        std::ofstream(path, std::ios::binary) << bytes;
        return path;
    }

    static std::vector<Record> read_all(Source& source, std::size_t batch = 4096) {
        std::vector<Record> records;
        std::vector<Record> buffer(batch);
        while (const std::size_t n = source.next(buffer.data(), batch)) {
            records.insert(records.end(), buffer.begin(), buffer.begin() + n);
        }
        return records;
    }

    std::vector<Record> read_text(const std::string& text, std::size_t batch = 4096) {
        auto source = open_lackey(write("trace.txt", text));
        return read_all(*source, batch);
    }

    // Runs `action`, which must throw a WorkloadError whose message holds every piece.
    static void expect_error(const std::function<void()>& action,
                             std::initializer_list<std::string> pieces) {
        try {
            action();
            ADD_FAILURE() << "no error was raised";
        } catch (const WorkloadError& error) {
            const std::string message = error.what();
            for (const std::string& piece : pieces) {
                EXPECT_NE(message.find(piece), std::string::npos)
                    << "missing \"" << piece << "\" in: " << message;
            }
        }
    }

    void expect_text_error(const std::string& text, std::initializer_list<std::string> pieces) {
        const std::string path = write("bad.txt", text);
        expect_error([&] { read_all(*open_lackey(path)); }, pieces);
    }

    fs::path m_dir;
};

TEST_F(LackeyTest, ParsesEachRecordKind) {
    const auto records = read_text(
        "I  04017e40,3\n"
        " L 1ffefffd80,8\n"
        " S 04228f38,4\n"
        " M 0402a0a8,16\n");
    const std::vector<Record> expected = {
        {0x04017e40, 3, AccessKind::Ifetch},
        {0x1ffefffd80, 8, AccessKind::Load},
        {0x04228f38, 4, AccessKind::Store},
        {0x0402a0a8, 16, AccessKind::Modify},
    };
    EXPECT_TRUE(same_records(records, expected));
}

TEST_F(LackeyTest, SkipsHeadersAndOtherLines) {
    const auto records = read_text(
        "==1234== Lackey, an example Valgrind tool\n"
        "==1234== Copyright (C) 2002-2017, and GNU GPL'd, by Nicholas Nethercote.\n"
        "==1234== Command: /bin/true\n"
        "==1234== \n"
        "\n"
        "I  04017e40,3\n"
        "SYSCALL[1234,1](39) sys_getpid ( )[sync] --> Success(0x4d2) \n"
        "--1234-- warning: something\n"
        "SB 04017e40\n"
        "Invalid read\n"
        " X 1234,4\n"
        " L 1ffefffd80,8\n"
        "hello from the program\n"
        "==1234== \n"
        "==1234== Counted 1 call to main()\n");
    const std::vector<Record> expected = {
        {0x04017e40, 3, AccessKind::Ifetch},
        {0x1ffefffd80, 8, AccessKind::Load},
    };
    EXPECT_TRUE(same_records(records, expected));
}

TEST_F(LackeyTest, AcceptsEitherCaseAndLongAndShortAddresses) {
    const auto records = read_text(
        " L ABCDEF12,1\n"
        " L abcdef12,2\n"
        " L aBcDeF12,3\n"
        " S ffffffffffffffff,4\n"
        " S 0000ffff0000ffff,5\n"
        " M 0,6\n");
    const std::vector<Record> expected = {
        {0xabcdef12, 1, AccessKind::Load},
        {0xabcdef12, 2, AccessKind::Load},
        {0xabcdef12, 3, AccessKind::Load},
        {0xffffffffffffffff, 4, AccessKind::Store},
        {0x0000ffff0000ffff, 5, AccessKind::Store},
        {0, 6, AccessKind::Modify},
    };
    EXPECT_TRUE(same_records(records, expected));
}

TEST_F(LackeyTest, AcceptsLargeSizesCrlfAndAMissingLastNewline) {
    const auto records = read_text(
        " L 1000,4096\r\n"
        " S 2000,65536  \n"
        "I  3000,15");
    const std::vector<Record> expected = {
        {0x1000, 4096, AccessKind::Load},
        {0x2000, 65536, AccessKind::Store},
        {0x3000, 15, AccessKind::Ifetch},
    };
    EXPECT_TRUE(same_records(records, expected));
}

TEST_F(LackeyTest, RejectsMalformedRecordsNamingTheLine) {
    const std::string head = "==1== header\nI  04017e40,3\n L 1ffefffd80,8\n";
    expect_text_error(head + " L 1ffefffd80\n", {"bad.txt:4:", "\" L 1ffefffd80\"",
                                                  "not followed by a comma",
                                                  "expected a hex address, a comma and a "
                                                  "decimal size, e.g. \" L 1ffefffd80,8\""});
    expect_text_error(head + " S 12345678,0\n", {"bad.txt:4:", "size is 0"});
    expect_text_error(head + " S 12345678,65537\n", {"bad.txt:4:", "larger than 65536"});
    expect_text_error(head + " S 12345678,99999999999999999999\n", {"larger than 65536"});
    expect_text_error(head + " M 10000000000000000,8\n", {"bad.txt:4:", "more than 16"});
    expect_text_error(head + " L 0x1234,8\n", {"bad.txt:4:", "comma"});
    expect_text_error(head + " L ,8\n", {"bad.txt:4:", "no hex address"});
    expect_text_error(head + " L 1234,\n", {"bad.txt:4:", "size after the comma is missing"});
    expect_text_error(head + " L 1234,8 extra\n", {"bad.txt:4:", "more text after the size"});
    expect_text_error(head + "I 04017e40,3\n", {"bad.txt:4:", "two spaces"});
    expect_text_error(head + " L g1234,8\n", {"bad.txt:4:"});
}

TEST_F(LackeyTest, QuotesALongMalformedLineShortened) {
    const std::string line = " L " + std::string(200, 'z');
    expect_text_error("I  1000,4\n" + line + "\n",
                      {"bad.txt:2:", "\" L " + std::string(77, 'z') + "\"..."});
}

TEST_F(LackeyTest, ReportsTheLineNumberDeepInABigFile) {
    std::vector<Record> expected;
    std::string text = big_trace(150000, &expected);
    const std::size_t lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
    text += " L 12345678,8,9\n";
    text += big_trace(1000, &expected);
    expect_text_error(text, {"bad.txt:" + std::to_string(lines + 1) + ":"});
}

TEST_F(LackeyTest, RecordsSplitAcrossTheBufferComeOutWhole) {
    std::vector<Record> expected;
    const std::string text = big_trace(300000, &expected);
    ASSERT_GT(text.size(), 3 * LackeyReader::kBufferSize);
    for (const std::size_t batch : {std::size_t{1}, std::size_t{7}, std::size_t{100000}}) {
        EXPECT_TRUE(same_records(read_text(text, batch), expected)) << "batch " << batch;
    }
}

TEST_F(LackeyTest, PlainGzipXzAndZstdGiveTheSameRecords) {
    std::vector<Record> expected;
    const std::string text = big_trace(200000, &expected);
    const std::vector<std::pair<std::string, Compression>> files = {
        {write("plain", text), Compression::None},
        {write("gz", gzip_bytes(text)), Compression::Gzip},
        {write("xz", xz_bytes(text)), Compression::Xz},
        {write("zst", zstd_bytes(text)), Compression::Zstd},
        // the name does not matter, only the content
        {write("misnamed.xz", gzip_bytes(text)), Compression::Gzip},
    };
    for (const auto& [path, compression] : files) {
        LackeyReader reader(path);
        EXPECT_EQ(reader.compression(), compression) << path;
        EXPECT_TRUE(same_records(read_all(reader), expected)) << path;
        EXPECT_EQ(reader.name(), path);
    }
}

TEST_F(LackeyTest, ConcatenatedStreamsReadAsOneText) {
    std::vector<Record> first;
    std::vector<Record> second;
    const std::string a = big_trace(30000, &first);
    const std::string b = big_trace(20000, &second);
    first.insert(first.end(), second.begin(), second.end());
    const std::string padding(512, '\0');
    for (const std::string& bytes : {gzip_bytes(a) + gzip_bytes(b) + padding,
                                     xz_bytes(a) + xz_bytes(b), zstd_bytes(a) + zstd_bytes(b)}) {
        auto source = open_lackey(write("concatenated", bytes));
        EXPECT_TRUE(same_records(read_all(*source), first));
    }
}

TEST_F(LackeyTest, TruncatedCompressedFilesAreReported) {
    std::vector<Record> expected;
    const std::string text = big_trace(100000, &expected);
    const std::vector<std::pair<std::string, std::string>> files = {
        {"gzip", gzip_bytes(text)}, {"xz", xz_bytes(text)}, {"zstd", zstd_bytes(text)}};
    for (const auto& [format, bytes] : files) {
        for (const std::size_t keep : {bytes.size() / 2, bytes.size() - 1, std::size_t{20}}) {
            const std::string path = write("cut", bytes.substr(0, keep));
            expect_error([&] { read_all(*open_lackey(path)); },
                         {path + ": the " + format + " stream is truncated", "near line",
                          "bytes of decompressed data", "cut short"});
        }
    }
}

TEST_F(LackeyTest, CorruptCompressedFilesAreReported) {
    std::vector<Record> expected;
    const std::string text = big_trace(50000, &expected);
    // A wrong CRC is found at the very end, after all the text has been parsed.
    std::string gz = gzip_bytes(text);
    gz[gz.size() - 8] = static_cast<char>(gz[gz.size() - 8] ^ 0x5a);
    const std::string path = write("crc.gz", gz);
    expect_error([&] { read_all(*open_lackey(path)); },
                 {path + ": the gzip stream is corrupt after", "near line", "gzip -t"});
    const std::string tails[] = {write("tail.gz", gzip_bytes(text) + "garbage"),
                                 write("tail.xz", xz_bytes(text) + "garbage after the end"),
                                 write("tail.zst", zstd_bytes(text) + "garbage")};
    for (const std::string& tail : tails) {
        expect_error([&] { read_all(*open_lackey(tail)); }, {tail + ": the ", "is corrupt"});
    }
}

// Damage inside the data may decode to garbage text before the library notices, so this is
// checked on the byte stream rather than through the reader.
TEST_F(LackeyTest, DamagedCompressedDataIsReported) {
    std::string text;
    for (int i = 0; i < 100000; ++i) {
        text += std::to_string(i * 7919 % 100003) + "\n";
    }
    std::string gz = gzip_bytes(text);
    for (std::size_t i = gz.size() / 2; i < gz.size() / 2 + 64; ++i) {
        gz[i] = static_cast<char>(gz[i] ^ 0x5a);
    }
    const std::string path = write("damaged.gz", gz);
    expect_error(
        [&] {
            CompressedInput input(path);
            char piece[4096];
            while (input.read(piece, sizeof piece) > 0) {
            }
        },
        {path + ": the gzip stream is corrupt after", "bytes of decompressed data"});
}

TEST_F(LackeyTest, Bzip2IsNamedAsUnsupported) {
    const std::string empty_bzip2("BZh9\x17\x72\x45\x38\x50\x90\0\0\0\0", 14);
    const std::string path = write("trace.bz2", empty_bzip2);
    expect_error([&] { open_lackey(path); }, {path, "bzip2", "not supported"});
}

TEST_F(LackeyTest, AFileWithoutRecordsIsNotALackeyTrace) {
    std::string prose;
    for (int i = 0; i < 1500; ++i) {
        prose += "line " + std::to_string(i) + " of a text that is not a trace\n";
    }
    const std::string path = write("prose.txt", prose);
    // The check happens on opening, before any record is asked for.
    expect_error([&] { open_lackey(path); },
                 {path, "is not a lackey trace", "first 1000 lines",
                  "\"line 0 of a text that is not a trace\"", "I  04017e40,3"});
}

TEST_F(LackeyTest, RecordsLateInTheFileAreStillFoundIfOneCameEarly) {
    std::string text = "I  1000,4\n";
    for (int i = 0; i < 2000; ++i) {
        text += "program output\n";
    }
    text += " L 2000,8\n";
    EXPECT_EQ(read_text(text).size(), 2u);
}

TEST_F(LackeyTest, HeaderOnlyAndEmptyFilesHaveNoRecords) {
    const std::string headers = write("headers.txt",
                                      "==1== Lackey, an example Valgrind tool\n"
                                      "==1== Counted 1 call to main()\n");
    expect_error([&] { open_lackey(headers); },
                 {headers, "contains no records", "2 lines", "\"==1== Lackey", "--trace-mem=yes"});
    const std::string empty = write("empty.txt", "");
    expect_error([&] { open_lackey(empty); }, {empty, "contains no records", "empty"});
    const std::string empty_gz = write("empty.gz", gzip_bytes(""));
    expect_error([&] { open_lackey(empty_gz); }, {"contains no records"});
}

TEST_F(LackeyTest, BinaryJunkIsQuotedReadably) {
    std::string junk = "\x7f" "ELF\x02\x01\x01";
    junk += std::string(3000, '\0');
    const std::string path = write("a.out", junk);
    expect_error([&] { open_lackey(path); }, {"contains no records", "\"\\x7fELF\\x02"});
}

TEST_F(LackeyTest, LinesLongerThanTheBufferAreSkippedUnlessTheyLookLikeRecords) {
    std::string text = "==1== " + std::string(3 * LackeyReader::kBufferSize, 'x') + "\n";
    text += "I  1000,4\n";
    text += std::string(LackeyReader::kBufferSize + 5, 'y') + "\n";
    text += " L 2000,8\n";
    text += std::string(LackeyReader::kBufferSize, 'z');  // last line, no newline
    const std::vector<Record> expected = {{0x1000, 4, AccessKind::Ifetch},
                                          {0x2000, 8, AccessKind::Load}};
    EXPECT_TRUE(same_records(read_text(text), expected));
    expect_text_error(text + "\n L " + std::string(LackeyReader::kBufferSize, '1') + ",8\n",
                      {"bad.txt:6:", "longer than 1 MiB"});
}

TEST_F(LackeyTest, MissingFileNamesThePath) {
    const std::string path = (m_dir / "no-such-trace.txt").string();
    expect_error([&] { open_lackey(path); }, {path, "No such file"});
}

TEST_F(LackeyTest, CompressedInputReadsInPieces) {
    const std::string text(100000, 'a');
    CompressedInput input(write("a.zst", zstd_bytes(text)));
    std::string got;
    char piece[333];
    while (const std::size_t n = input.read(piece, sizeof piece)) {
        got.append(piece, n);
    }
    EXPECT_EQ(got, text);
    EXPECT_EQ(input.position(), text.size());
    EXPECT_EQ(input.read(piece, sizeof piece), 0u);
}

}  // namespace
}  // namespace mmusim::workloads
