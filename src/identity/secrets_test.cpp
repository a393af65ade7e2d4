// Known answers for the hash every token and audit entry goes through (FIPS 180-2 examples),
// so that changing its implementation cannot silently change stored hashes; and the same hash
// of a file read in pieces (backups' checksums).
#include "identity/secrets.h"

#include <gtest/gtest.h>

#include <string>

#include "common/temp_dir.h"

namespace zc::identity {
namespace {

// A file larger than the read buffer hashes as its contents do in one piece.
TEST(SecretsTest, Sha256OfAFileIsThatOfItsContents) {
  TempDir dir("zc-sha");
  std::string contents;
  for (int i = 0; contents.size() < (3u << 20) / 2; ++i) contents += std::to_string(i) + ",";
  ASSERT_TRUE(WriteSecretFile(dir.path() / "f", contents).has_value());
  auto digest = Sha256FileHex(dir.path() / "f");
  ASSERT_TRUE(digest.has_value()) << digest.error().message;
  EXPECT_EQ(*digest, Sha256Hex(contents));
  EXPECT_FALSE(Sha256FileHex(dir.path() / "missing").has_value());
}

TEST(SecretsTest, Sha256HexKnownAnswers) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

}  // namespace
}  // namespace zc::identity
