// The `audit verify` command: an offline check an auditor can run on a data directory (or
// a copy of one) at any time, also while the server runs, since SQLite's WAL lets it read
// the last committed state without stopping the writer. It never creates a missing log or
// key: an empty log would "verify" and a new key would hide the loss of the old one.
#include "app/audit_command.h"

#include <fmt/format.h>

#include <cstdio>
#include <system_error>

#include "identity/audit.h"
#include "store/sqlite/audit_store.h"

namespace zc::app {

int AuditVerifyCommand(const std::filesystem::path& data_dir) {
  const auto db_file = data_dir / store::SqliteAuditStore::kFileName;
  std::error_code ec;
  if (!std::filesystem::exists(db_file, ec)) {
    fmt::print(stderr, "zhicheng: no audit log at {}\n", db_file.string());
    return 2;
  }
  auto key = identity::SigningKey::Load(data_dir / identity::kAuditKeyFile);
  if (!key) {
    fmt::print(stderr, "zhicheng: cannot load the audit key: {}\n", key.error().message);
    return 2;
  }
  auto store = store::SqliteAuditStore::Open(data_dir);
  if (!store) {
    fmt::print(stderr, "zhicheng: cannot open the audit log: {}\n", store.error().message);
    return 2;
  }
  auto report = identity::VerifyAudit(**store, *key);
  if (!report) {
    fmt::print(stderr, "zhicheng: cannot read the audit log: {}\n", report.error().message);
    return 2;
  }
  if (!report->ok) {
    fmt::print("audit log BROKEN at entry {}: {}\n", report->first_bad_seq, report->problem);
    return 1;
  }
  fmt::print("audit log verified: {} entries, {} checkpoints, chain intact\n", report->entries,
             report->checkpoints);
  return 0;
}

}  // namespace zc::app
