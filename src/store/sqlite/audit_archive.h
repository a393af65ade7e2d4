// Archiving the audit log: its oldest entries move out of DIR/audit.db into files of their
// own, so that the live log, which the auditor's API reads, stays as long as the retention
// says while nothing is lost.
//
// An archive file is an audit database of the same layout (audit_store.h) named
// audit-<first seq>-<last seq>.db (12 digits each) that holds a run of entries, every
// checkpoint among them (the last one signs the last entry) and the anchor before them (the
// checkpoint that signs the hash the first entry's prev_hash names; none for a file starting
// at entry 1). So identity::VerifyAudit checks a file on its own, and consecutive files and
// the live log link through the checkpoints they share.
//
// Order of work, per file: written under a temporary name (each group of entries committed
// with synchronous=FULL), checked (entry count, last hash), renamed into place and the
// directory synced; only then are its entries pruned from the live log. A crash leaves the
// entries in the log, or in a file, or (between the rename and the prune) in both; the next
// run replaces such a file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "store/sqlite/audit_store.h"

namespace zc::store {

struct AuditArchiveFile {
  std::filesystem::path path;
  int64_t first_seq = 0;
  int64_t last_seq = 0;
};

// Called after each file is written and its entries pruned.
using ArchiveProgress = std::function<void(const AuditArchiveFile&)>;

// Moves the entries that identity::ArchivePlan selects for `cutoff` from `log` into archive
// files in `dir` (created when missing), at most about `max_entries_per_file` to a file.
// Returns the files written, oldest first (empty when nothing was due). Errors: Internal
// (I/O); the store's. Files written before an error stay and their entries are pruned.
Result<std::vector<AuditArchiveFile>> ArchiveAuditLog(SqliteAuditStore& log,
                                                      const std::filesystem::path& dir,
                                                      TimeMs cutoff, int64_t max_entries_per_file,
                                                      const ArchiveProgress& progress = {});

// The archive files in `dir`, by first seq (an absent directory has none); other files are
// ignored. Errors: Internal when `dir` cannot be read.
Result<std::vector<AuditArchiveFile>> ListAuditArchives(const std::filesystem::path& dir);

}  // namespace zc::store
