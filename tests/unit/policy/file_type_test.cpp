// True file types by magic bytes and the password-protection markers, on hand-built files (and
// a real encrypted ZIP from /usr/bin/zip when it is installed), including truncated ones.
#include "policy/file_type.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace bulwark::policy {
namespace {

void putLittleEndian(std::string& out, std::uint64_t value, int bytes) {
  for (int index = 0; index < bytes; ++index) {
    out.push_back(static_cast<char>((value >> (8 * index)) & 0xFF));
  }
}

struct ZipEntry {
  std::string name;
  std::string data;
  std::uint16_t local_flags = 0;
  std::uint16_t central_flags = 0;
};

// A stored (uncompressed) ZIP with a central directory (APPNOTE.TXT 4.3).
std::string makeZip(const std::vector<ZipEntry>& entries) {
  std::string out;
  std::vector<std::size_t> offsets;
  for (const ZipEntry& entry : entries) {
    offsets.push_back(out.size());
    out += std::string("PK\x03\x04", 4);
    putLittleEndian(out, 20, 2);
    putLittleEndian(out, entry.local_flags, 2);
    putLittleEndian(out, 0, 2);  // stored
    putLittleEndian(out, 0, 4);  // time, date
    putLittleEndian(out, 0, 4);  // CRC (not checked here)
    // With a data descriptor (bit 3) the sizes are zero here.
    const std::uint64_t size = (entry.local_flags & 8) ? 0 : entry.data.size();
    putLittleEndian(out, size, 4);
    putLittleEndian(out, size, 4);
    putLittleEndian(out, entry.name.size(), 2);
    putLittleEndian(out, 0, 2);
    out += entry.name;
    out += entry.data;
  }
  const std::size_t directory = out.size();
  for (std::size_t index = 0; index < entries.size(); ++index) {
    const ZipEntry& entry = entries[index];
    out += std::string("PK\x01\x02", 4);
    putLittleEndian(out, 20, 2);
    putLittleEndian(out, 20, 2);
    putLittleEndian(out, entry.central_flags, 2);
    putLittleEndian(out, 0, 2);
    putLittleEndian(out, 0, 4);
    putLittleEndian(out, 0, 4);
    putLittleEndian(out, entry.data.size(), 4);
    putLittleEndian(out, entry.data.size(), 4);
    putLittleEndian(out, entry.name.size(), 2);
    putLittleEndian(out, 0, 2);
    putLittleEndian(out, 0, 2);
    putLittleEndian(out, 0, 2);
    putLittleEndian(out, 0, 2);
    putLittleEndian(out, 0, 4);
    putLittleEndian(out, offsets[index], 4);
    out += entry.name;
  }
  const std::size_t directory_size = out.size() - directory;
  out += std::string("PK\x05\x06", 4);
  putLittleEndian(out, 0, 4);
  putLittleEndian(out, entries.size(), 2);
  putLittleEndian(out, entries.size(), 2);
  putLittleEndian(out, directory_size, 4);
  putLittleEndian(out, directory, 4);
  putLittleEndian(out, 0, 2);
  return out;
}

// A 7z signature header pointing at `header` (7zFormat.txt, SignatureHeader).
std::string makeSevenZip(const std::string& header) {
  std::string out("7z\xBC\xAF\x27\x1C", 6);
  out += std::string("\x00\x04", 2);
  putLittleEndian(out, 0, 4);
  const std::string packed = "packed-streams";
  putLittleEndian(out, packed.size(), 8);
  putLittleEndian(out, header.size(), 8);
  putLittleEndian(out, 0, 4);
  return out + packed + header;
}

TEST(FileType, SniffsTheCommonTypes) {
  EXPECT_EQ(sniffFileKind("%PDF-1.4\n"), FileKind::pdf);
  EXPECT_EQ(sniffFileKind("\r\n\r\n%PDF-1.4\n"), FileKind::pdf);  // leading junk is allowed
  EXPECT_EQ(sniffFileKind(makeZip({{"a.txt", "hello"}})), FileKind::zip);
  EXPECT_EQ(
      sniffFileKind(makeZip({{"[Content_Types].xml", "<Types/>"}, {"word/document.xml", ""}})),
      FileKind::ooxml);
  EXPECT_EQ(sniffFileKind(std::string("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8) + "rest"),
            FileKind::ole2);
  std::string executable = "MZ";
  executable.resize(64, '\0');
  EXPECT_EQ(sniffFileKind(executable), FileKind::exe);
  EXPECT_EQ(sniffFileKind("MZ"), FileKind::unknown);  // too short for a DOS header
  EXPECT_EQ(sniffFileKind("\x7F"
                          "ELF\x02\x01"),
            FileKind::elf);
  EXPECT_EQ(sniffFileKind("\x89PNG\r\n\x1A\n...."), FileKind::png);
  EXPECT_EQ(sniffFileKind("\xFF\xD8\xFF\xE0"), FileKind::jpeg);
  EXPECT_EQ(sniffFileKind("GIF89a.."), FileKind::gif);
  EXPECT_EQ(sniffFileKind("\x1F\x8B\x08\x00"), FileKind::gzip);
  EXPECT_EQ(sniffFileKind(makeSevenZip("\x01")), FileKind::sevenzip);
  EXPECT_EQ(sniffFileKind(std::string("Rar!\x1A\x07\x01\x00", 8)), FileKind::rar);
  EXPECT_EQ(sniffFileKind("just text"), FileKind::unknown);
  EXPECT_EQ(sniffFileKind(""), FileKind::unknown);
}

TEST(FileType, NamesRoundTrip) {
  for (std::string_view name : fileKindNames()) {
    auto kind = fileKindFromName(name);
    ASSERT_TRUE(kind) << name;
    EXPECT_EQ(fileKindName(*kind), name);
  }
  EXPECT_FALSE(fileKindFromName("docx"));
}

TEST(PasswordProtection, ZipEncryptionBitInALocalHeader) {
  EXPECT_FALSE(passwordProtection(makeZip({{"a.txt", "hello"}, {"b.txt", "world"}})));
  auto why = passwordProtection(makeZip({{"a.txt", "hello"}, {"secret.docx", "xxxx", 1, 1}}));
  ASSERT_TRUE(why);
  EXPECT_EQ(*why, "ZIP entry \"secret.docx\" is encrypted");
}

TEST(PasswordProtection, ZipCentralDirectoryWhenLocalSizesAreUnknown) {
  // The first entry streams with a data descriptor, so the local walk stops; the central
  // directory still shows the second entry is encrypted.
  auto why = passwordProtection(makeZip({{"stream.bin", "data", 8, 8}, {"hidden.xls", "x", 0, 1}}));
  ASSERT_TRUE(why);
  EXPECT_EQ(*why, "ZIP entry \"hidden.xls\" is encrypted");
}

TEST(PasswordProtection, RealZipFromInfoZip) {
  if (!std::filesystem::exists("/usr/bin/zip")) GTEST_SKIP() << "/usr/bin/zip is not installed";
  const auto directory = std::filesystem::temp_directory_path() / "policy-zip-test";
  std::filesystem::create_directories(directory);
  std::ofstream(directory / "plain.txt") << "some text to protect\n";
  const std::string command = "cd " + directory.string() +
                              " && rm -f locked.zip open.zip && /usr/bin/zip -q -P secret "
                              "locked.zip plain.txt && /usr/bin/zip -q open.zip plain.txt";
  ASSERT_EQ(std::system(command.c_str()), 0);
  auto read = [&](const char* name) {
    std::ifstream stream(directory / name, std::ios::binary);
    std::stringstream buffer;
    buffer << stream.rdbuf();
    return buffer.str();
  };
  auto why = passwordProtection(read("locked.zip"));
  ASSERT_TRUE(why);
  EXPECT_EQ(*why, "ZIP entry \"plain.txt\" is encrypted");
  EXPECT_FALSE(passwordProtection(read("open.zip")));
}

TEST(PasswordProtection, PdfEncryptDictionary) {
  EXPECT_TRUE(passwordProtection("%PDF-1.6\ntrailer\n<</Size 9/Encrypt<</Filter/Standard>>>>"));
  EXPECT_FALSE(passwordProtection("%PDF-1.6\n(the word /Encryption in a string)"));
  EXPECT_FALSE(passwordProtection("%PDF-1.6\ntrailer<</Root 1 0 R>>\n%%EOF /Encrypt"));
}

TEST(PasswordProtection, OfficeEncryptedPackage) {
  std::string ole(std::string("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8));
  ole.resize(512, '\0');
  EXPECT_FALSE(passwordProtection(ole));
  for (char c : std::string_view("EncryptedPackage")) {
    ole.push_back(c);
    ole.push_back('\0');
  }
  auto why = passwordProtection(ole);
  ASSERT_TRUE(why);
  EXPECT_EQ(*why, "Office document is encrypted (OLE2 \"EncryptedPackage\" stream)");
}

TEST(PasswordProtection, SevenZipWithAes) {
  const std::string aes("\x06\xF1\x07\x01", 4);
  EXPECT_EQ(passwordProtection(makeSevenZip("\x17\x06..." + aes + "...")),
            "7z archive with an encrypted header (AES)");
  EXPECT_EQ(passwordProtection(makeSevenZip("\x01\x04..." + aes + "...")),
            "7z archive with encrypted content (AES)");
  EXPECT_FALSE(passwordProtection(makeSevenZip("\x01\x04 plain LZMA coder \x03\x01\x01")));
}

TEST(PasswordProtection, TruncatedAndHostileHeadersAreSafe) {
  std::string zip = makeZip({{"a.txt", "hello"}});
  // Central directory offset pointing far past the end.
  std::string hostile = zip;
  const std::size_t end = hostile.rfind(std::string("PK\x05\x06", 4));
  hostile[end + 16] = '\xFF';
  hostile[end + 17] = '\xFF';
  hostile[end + 18] = '\xFF';
  hostile[end + 19] = '\x7F';
  EXPECT_FALSE(passwordProtection(hostile));
  for (std::size_t size = 0; size < zip.size(); ++size) {
    EXPECT_FALSE(passwordProtection(zip.substr(0, size)));
  }
  std::string seven = makeSevenZip("\x17");
  seven[12] = '\xFF';  // next header offset beyond the end
  seven[19] = '\x7F';
  EXPECT_FALSE(passwordProtection(seven));
  EXPECT_FALSE(passwordProtection(seven.substr(0, 10)));
}

}  // namespace
}  // namespace bulwark::policy
