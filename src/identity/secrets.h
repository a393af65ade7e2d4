// Secrets: random tokens, their SHA-256 digests, and Argon2id password hashes (libsodium).
// Tokens and generated client secrets carry 256 bits of entropy, so a fast digest is
// enough to store them; human passwords get Argon2id with libsodium's interactive limits.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.h"

namespace zc::identity {

// Initialises libsodium; safe to call many times. Throws if the library cannot start.
void InitCrypto();

// 32 random bytes, URL-safe base64 without padding, after `prefix` ("zc_").
std::string RandomToken(std::string_view prefix);
// `bytes` random bytes as lowercase hex.
std::string RandomHex(size_t bytes);
// SHA-256 as lowercase hex.
std::string Sha256Hex(std::string_view data);
// SHA-256 of a file's contents as lowercase hex, read a MiB at a time. Internal when the
// file cannot be read.
Result<std::string> Sha256FileHex(const std::filesystem::path& file);
// Constant-time comparison of two equal-length strings (false if lengths differ).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

struct PasswordLimits {
  unsigned long long ops = 2;           // crypto_pwhash_OPSLIMIT_INTERACTIVE
  size_t memory = 64ull * 1024 * 1024;  // crypto_pwhash_MEMLIMIT_INTERACTIVE
};

// Argon2id hash in libsodium's self-describing string format. Internal on failure
// (out of memory).
Result<std::string> HashPassword(std::string_view password, const PasswordLimits& limits = {});
bool VerifyPassword(std::string_view password, const std::string& hash);

// The password policy: 12 to 256 characters, at least three of lower case, upper case,
// digits and other characters, and not containing the login. BadRequest says what fails.
Status CheckPasswordPolicy(std::string_view password, std::string_view login);

// Writes `contents` to `file` with mode 0600 so that the file either does not exist or is
// complete, even after a crash: a temporary file, fsync, rename, fsync of the directory.
// For keys and tokens kept in the data directory.
Status WriteSecretFile(const std::filesystem::path& file, std::string_view contents);

}  // namespace zc::identity
