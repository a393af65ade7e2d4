// The security side of a data directory: the identity directory (DATA/identity.db), the
// audit log (DATA/audit.db signed with DATA/audit.key), and the first-start bootstrap.
// Shared by `zhicheng serve` and the offline `zhicheng admin` commands.
#pragma once

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "api/identity/routes.h"
#include "app/config.h"
#include "identity/audit.h"
#include "identity/directory.h"
#include "store/sqlite/audit_store.h"
#include "store/sqlite/identity_store.h"

namespace zc::app {

inline constexpr const char* kBootstrapTokenFile = "bootstrap-token";
inline constexpr const char* kAdminLogin = "admin";

struct Security {
  std::unique_ptr<store::SqliteIdentityStore> identity_store;
  std::unique_ptr<identity::Directory> directory;
  std::unique_ptr<store::SqliteAuditStore> audit_store;
  std::unique_ptr<identity::AuditLog> audit;
  std::unique_ptr<api::identity::BootstrapToken> bootstrap;  // set on a first start only
};

// Opens the directory and the audit log of config.data_dir (creating them if needed).
Result<Security> OpenSecurity(const Config& config);

// First start (no user, no account): with an admin token (ZHICHENG_ADMIN_TOKEN or
// config.admin_token_file) creates the token-only user "admin" holding that token;
// otherwise creates a one-time bootstrap token, writes it (mode 0600) to
// DATA/bootstrap-token and prints it on `out`. Does nothing when the directory has users.
Status BootstrapIfEmpty(const Config& config, Security& security, std::FILE* out);

// The audit actor of an offline command: "cli:<the Unix user>".
std::string CliActor();

// A warning when users other than the owner (and its group) may enter the data directory;
// nullopt when they may not, or when it does not exist yet.
std::optional<std::string> DataDirExposure(const std::filesystem::path& data_dir);

// An exclusive lock on DATA/lock for the life of the returned object; Unavailable when
// another process (a running server) holds it.
class DataDirLock {
 public:
  static Result<DataDirLock> Acquire(const std::filesystem::path& data_dir);
  DataDirLock(DataDirLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace zc::app
