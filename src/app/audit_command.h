// `zhicheng audit verify --data DIR [--archive DIR]`: proves that the audit log in DIR, and
// the archive files beside it, were not altered. `zhicheng audit archive --data DIR --before
// TIME [--archive DIR]`: moves older entries into archive files by hand; the server does it
// every hour with [audit] retention_days. Both are in docs/security.md.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "identity/audit.h"
#include "store/sqlite/audit_archive.h"

namespace zc::app {

// Opens DIR/audit.db and the checkpoint key DIR/audit.key (never creating either) and runs
// identity::VerifyAudit on it and on every archive file in `archive_dir`, which must link to
// each other and to the log. Prints the verdict on stdout and returns the exit code: 0 when
// every chain and checkpoint checks out, 1 when something is broken (the first problem is
// named), 2 when the log or the key cannot be opened or read (the reason goes to stderr).
int AuditVerifyCommand(const std::filesystem::path& data_dir,
                       const std::filesystem::path& archive_dir);

// Moves the entries of `log` signed before `cutoff` into archive files in `archive_dir`
// (store::ArchiveAuditLog), logs each file, and records what it did in `audit` as the
// action "audit.archive" by `actor` (nothing when nothing was due).
Result<std::vector<store::AuditArchiveFile>> ArchiveAudit(store::SqliteAuditStore& log,
                                                          identity::AuditLog& audit,
                                                          const std::filesystem::path& archive_dir,
                                                          TimeMs cutoff, const std::string& actor);

// The offline command: refuses while a server holds the data directory; `before` is an ISO
// 8601 time. Exit code 0 (also when nothing was due), 1 on a failure, 2 on bad input.
int AuditArchiveCommand(const std::filesystem::path& data_dir, const std::string& before,
                        const std::filesystem::path& archive_dir);

}  // namespace zc::app
