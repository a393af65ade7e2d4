#include "identity/secrets.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace zc::identity {
namespace {

// A full disk is Unavailable (the operator frees space and tries again), as it is for the
// store; any other failure is Internal.
Error IoError(std::string_view what, const std::filesystem::path& file) {
  const int err = errno;
  std::string message = std::string(what) + " " + file.string() + ": " +
                        std::error_code(err, std::generic_category()).message();
  if (err == ENOSPC || err == EDQUOT) return Error::Unavailable("storage full: " + message);
  return Error::Internal(std::move(message));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Status WriteAll(int fd, std::string_view data, const std::filesystem::path& file) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(IoError("write", file));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Ok();
}

// OpenSSL 3 looks EVP_sha256() up in its provider registry on every use, which costs three
// times the hashing of a token; the fetched algorithm is immutable and thread-safe, so it is
// fetched once and kept for the life of the process.
const EVP_MD* Sha256Algorithm() {
  static const EVP_MD* const algorithm = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  if (algorithm == nullptr) throw std::runtime_error("OpenSSL has no SHA-256");  // a bug
  return algorithm;
}

std::string DigestHex(const unsigned char (&digest)[crypto_hash_sha256_BYTES]) {
  char hex[2 * crypto_hash_sha256_BYTES + 1];
  sodium_bin2hex(hex, sizeof hex, digest, crypto_hash_sha256_BYTES);
  return std::string(hex, size_t{2} * crypto_hash_sha256_BYTES);
}

using DigestCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

// Writes `contents` to `tmp`, durable, mode 0600.
Status WriteDurably(const std::filesystem::path& tmp, std::string_view contents) {
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.get() < 0) return Fail(IoError("create", tmp));
  // A temporary file left by a crash keeps its old mode through O_TRUNC.
  if (::fchmod(fd.get(), 0600) != 0) return Fail(IoError("chmod", tmp));
  if (auto s = WriteAll(fd.get(), contents, tmp); !s) return s;
  if (::fsync(fd.get()) != 0) return Fail(IoError("fsync", tmp));
  return Ok();
}

}  // namespace

Status WriteSecretFile(const std::filesystem::path& file, std::string_view contents) {
  std::filesystem::path tmp = file;
  tmp += ".tmp";
  if (auto s = WriteDurably(tmp, contents); !s) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);  // a partial secret is of no use to anyone
    return s;
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) return Fail(IoError("rename to", file));
  const std::filesystem::path dir = file.has_parent_path() ? file.parent_path() : ".";
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0 || ::fsync(dir_fd.get()) != 0) return Fail(IoError("fsync", dir));
  return Ok();
}

void InitCrypto() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

std::string RandomToken(std::string_view prefix) {
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof bytes);
  const size_t size =
      sodium_base64_encoded_len(sizeof bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  std::string encoded(size, '\0');
  sodium_bin2base64(encoded.data(), size, bytes, sizeof bytes,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  encoded.resize(size - 1);  // the terminating NUL
  return std::string(prefix) + encoded;
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), bytes);
  std::string hex(2 * bytes + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(raw.data()), bytes);
  hex.pop_back();
  return hex;
}

std::string Sha256Hex(std::string_view data) {
  // OpenSSL's SHA-256 uses the CPU's SHA extensions where there are any (several times
  // faster than libsodium's portable code: every request hashes its token, and the audit
  // chain hashes every entry).
  unsigned char digest[crypto_hash_sha256_BYTES];
  if (EVP_Digest(data.data(), data.size(), digest, nullptr, Sha256Algorithm(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");  // only when the library is broken: a bug
  }
  return DigestHex(digest);
}

Result<std::string> Sha256FileHex(const std::filesystem::path& file) {
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Fail(IoError("open", file));
  DigestCtx ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), Sha256Algorithm(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");  // a bug, as above
  }
  std::vector<unsigned char> buf(1 << 20);
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(IoError("read", file));
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n));
  }
  unsigned char digest[crypto_hash_sha256_BYTES];
  if (EVP_DigestFinal_ex(ctx.get(), digest, nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return DigestHex(digest);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<std::string> HashPassword(std::string_view password, const PasswordLimits& limits) {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), limits.ops, limits.memory,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Fail(Error::Internal("password hashing failed (out of memory)"));
  }
  return std::string(out);
}

bool VerifyPassword(std::string_view password, const std::string& hash) {
  if (hash.empty()) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

Status CheckPasswordPolicy(std::string_view password, std::string_view login) {
  if (password.size() < 12) return Fail(Error::BadRequest("password: at least 12 characters"));
  if (password.size() > 256) return Fail(Error::BadRequest("password: at most 256 characters"));
  auto has = [&](auto predicate) {
    return std::any_of(password.begin(), password.end(),
                       [&](char c) { return predicate(static_cast<unsigned char>(c)); });
  };
  const int classes = int{has([](unsigned char c) { return std::islower(c) != 0; })} +
                      int{has([](unsigned char c) { return std::isupper(c) != 0; })} +
                      int{has([](unsigned char c) { return std::isdigit(c) != 0; })} +
                      int{has([](unsigned char c) { return std::isalnum(c) == 0; })};
  if (classes < 3) {
    return Fail(Error::BadRequest(
        "password: needs three of lower case, upper case, digits and other characters"));
  }
  if (!login.empty() && password.find(login) != std::string_view::npos) {
    return Fail(Error::BadRequest("password: must not contain the login name"));
  }
  return Ok();
}

}  // namespace zc::identity
