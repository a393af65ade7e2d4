#include "app/security.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "identity/credentials.h"
#include "identity/secrets.h"

namespace zc::app {
namespace {

identity::DirectoryOptions DirectoryOptionsOf(const Config& c) {
  identity::DirectoryOptions o;
  o.token_ttl = std::chrono::seconds(c.token_ttl_seconds);
  o.max_login_failures = c.max_login_failures;
  o.lockout = std::chrono::seconds(c.lockout_seconds);
  return o;
}

// The admin token given for a first start, if any: the environment wins over the file.
Result<std::string> GivenAdminToken(const Config& config) {
  std::string token;
  if (const char* env = std::getenv("ZHICHENG_ADMIN_TOKEN"); env != nullptr && *env != '\0') {
    token = env;
  } else if (!config.admin_token_file.empty()) {
    std::ifstream in(config.admin_token_file);
    if (!in || !std::getline(in, token)) {
      return Fail(Error::BadRequest("cannot read the admin token file " + config.admin_token_file));
    }
  }
  if (!token.empty() && (!identity::IsWellFormedToken(token) || token.size() < 20)) {
    return Fail(Error::BadRequest(
        "the admin token must be 20 to 512 characters of letters, digits and -._~+/="));
  }
  return token;
}

Status CreateAdmin(Security& security, const std::string& token) {
  identity::User admin{.login = kAdminLogin,
                       .display_name = "Platform administrator",
                       .roles = {"platform_admin"},
                       .tenants = {{"*", "/", true}}};
  const TimeMs now = NowMs();
  if (auto s = security.directory->CreateUser(admin, "", now); !s) return s;
  identity::TokenRequest request{
      .description = "first-start admin token", .api_key = true, .text = token};
  auto issued = security.directory->IssueToken(kAdminLogin, request, now);
  if (!issued) return Fail(issued.error());
  security.audit->Record({.actor = "system",
                          .actor_kind = "system",
                          .action = "identity.bootstrap",
                          .target = kAdminLogin,
                          .outcome = "success",
                          .detail = "admin created with the given admin token"});
  return Ok();
}

}  // namespace

Result<Security> OpenSecurity(const Config& config) {
  identity::InitCrypto();
  Security s;
  auto istore = store::SqliteIdentityStore::Open(config.data_dir);
  if (!istore) return Fail(istore.error());
  s.identity_store = std::move(*istore);
  s.directory =
      std::make_unique<identity::Directory>(*s.identity_store, DirectoryOptionsOf(config));
  if (auto st = s.directory->Load(); !st) return Fail(st.error());
  auto astore = store::SqliteAuditStore::Open(config.data_dir);
  if (!astore) return Fail(astore.error());
  s.audit_store = std::move(*astore);
  auto key = identity::SigningKey::LoadOrCreate(config.data_dir / identity::kAuditKeyFile);
  if (!key) return Fail(key.error());
  s.audit = std::make_unique<identity::AuditLog>(
      *s.audit_store, std::move(*key),
      identity::AuditLogOptions{
          .checkpoint_entries = config.audit_checkpoint_entries,
          .checkpoint_interval = std::chrono::seconds(config.audit_checkpoint_seconds),
          .group_delay = std::chrono::milliseconds(config.audit_group_delay_ms),
          .device_window = std::chrono::seconds(config.audit_device_window_seconds)});
  if (auto st = s.audit->Open(); !st) return Fail(st.error());
  return s;
}

std::string CliActor() {
  const char* user = std::getenv("USER");
  return fmt::format("cli:{}", user ? user : "unknown");
}

Status BootstrapIfEmpty(const Config& config, Security& security, std::FILE* out) {
  if (!security.directory->Empty()) return Ok();
  auto given = GivenAdminToken(config);
  if (!given) return Fail(given.error());
  if (!given->empty()) return CreateAdmin(security, *given);
  const std::string token = identity::RandomToken("zcb_");
  const auto file = config.data_dir / kBootstrapTokenFile;
  if (auto s = identity::WriteSecretFile(file, token + "\n"); !s) return s;
  security.bootstrap =
      std::make_unique<api::identity::BootstrapToken>(identity::Sha256Hex(token), file);
  fmt::print(out,
             "zhicheng: first start, no administrator yet. One-time bootstrap token (also in {}):\n"
             "  {}\n"
             "Create the first admin with:\n"
             "  curl -X POST http://HOST:PORT/api/identity/bootstrap -H 'Authorization: Bearer {}'"
             " -H 'Content-Type: application/json'"
             " -d '{{\"login\":\"admin\",\"password\":\"...\",\"displayName\":\"...\"}}'\n",
             file.string(), token, token);
  std::fflush(out);
  return Ok();
}

std::optional<std::string> DataDirExposure(const std::filesystem::path& data_dir) {
  struct stat st {};
  if (::stat(data_dir.c_str(), &st) != 0 || (st.st_mode & S_IRWXO) == 0) return std::nullopt;
  return fmt::format(
      "every user of this machine may enter the data directory {} (mode {:04o}), whose "
      "databases hold the city's data, password hashes and the audit log: chmod 700 {}",
      data_dir.string(), st.st_mode & 07777, data_dir.string());
}

Result<DataDirLock> DataDirLock::Acquire(const std::filesystem::path& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  const auto file = data_dir / "lock";
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Fail(Error::Internal("cannot open " + file.string()));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Fail(Error::Unavailable(fmt::format(
        "the data directory {} is in use by another zhicheng process", data_dir.string())));
  }
  return DataDirLock(fd);
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace zc::app
