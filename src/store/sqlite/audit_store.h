// The audit log's storage (identity::AuditStore) in its own SQLite file, DIR/audit.db, in
// WAL mode with synchronous=FULL: Append returning Ok means the entries are on disk. A file
// apart from zhicheng.db so that audit commits never queue behind the context writer's
// transactions (SQLite has one writer per file), and so the log can be copied or archived
// on its own.
//
// Threads: Append serializes on the write connection's mutex (in practice only AuditLog's
// thread calls it). Reads open a read-only connection per call, so queries and a long
// VerifyAudit scan run in parallel with appends and with each other, each on the snapshot
// of the last commit. All methods are thread-safe; none throws.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

#include "identity/audit.h"
#include "store/sqlite/sqlite_util.h"

namespace zc::store {

class SqliteAuditStore final : public identity::AuditStore {
  struct Passkey {
    explicit Passkey() = default;
  };

 public:
  // The file name in the data directory.
  static constexpr const char* kFileName = "audit.db";

  // Opens or creates DIR/audit.db (creating DIR) and its tables. Errors: Internal (I/O, not
  // a database, a newer audit schema).
  static Result<std::unique_ptr<SqliteAuditStore>> Open(const std::filesystem::path& data_dir);
  // Opens or creates the audit database `file` itself (an archive file, audit_archive.h).
  static Result<std::unique_ptr<SqliteAuditStore>> OpenFile(const std::filesystem::path& file);
  SqliteAuditStore(Passkey, std::filesystem::path file, DbPtr writer);
  ~SqliteAuditStore() override;

  Status Append(const std::vector<identity::AuditEntry>& entries,
                const std::optional<identity::AuditCheckpoint>& checkpoint) override;
  Result<std::optional<identity::AuditEntry>> Last() override;
  Result<std::vector<identity::AuditEntry>> Query(const identity::AuditQuery& q) override;
  Status Scan(const std::function<Status(const identity::AuditEntry&)>& visit) override;
  Status ScanRange(int64_t after_seq, int64_t through_seq,
                   const std::function<Status(const identity::AuditEntry&)>& visit) override;
  Result<std::vector<identity::AuditCheckpoint>> Checkpoints() override;
  Status PruneThrough(int64_t through_seq) override;

  const std::filesystem::path& File() const { return file_; }

 private:
  Status Init();
  Status WriteEntries(const std::vector<identity::AuditEntry>& entries);
  Status WriteCheckpoint(const identity::AuditCheckpoint& checkpoint);
  Status CheckPrunable(int64_t through_seq);
  Result<DbPtr> OpenReader() const;

  // Constant after construction.
  const std::filesystem::path file_;

  std::mutex write_mu_;
  DbPtr writer_;               // GUARDED_BY(write_mu_)
  StmtPtr insert_entry_;       // GUARDED_BY(write_mu_)
  StmtPtr insert_checkpoint_;  // GUARDED_BY(write_mu_)
};

}  // namespace zc::store
