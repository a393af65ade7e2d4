// The `audit verify` and `audit archive` commands, and the archiving step the server runs
// every hour. Verification is an offline check an auditor can run on a data directory (or a
// copy of one) at any time, also while the server runs, since SQLite's WAL lets it read the
// last committed state without stopping the writer. It never creates a missing log or key:
// an empty log would "verify" and a new key would hide the loss of the old one.
#include "app/audit_command.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <system_error>

#include "app/config.h"
#include "app/security.h"
#include "common/log.h"
#include "store/sqlite/audit_store.h"

namespace zc::app {
namespace {

namespace fs = std::filesystem;
using identity::VerifyReport;

std::string Range(int64_t first, int64_t last) {
  return first == last ? fmt::format("entry {}", first)
                       : fmt::format("entries {} to {}", first, last);
}

// The archive files must run on without a gap, each linked to the one before by the
// checkpoint they share, up to the live log's anchor. What came before the first file may
// have been moved elsewhere; that is said, not failed.
class ArchiveVerifier {
 public:
  ArchiveVerifier(const identity::SigningKey& key, const VerifyReport& live)
      : key_(key), live_(live) {}

  // The exit code: 0, 1 (broken, printed) or 2 (unreadable, on stderr).
  int Run(const fs::path& dir) {
    auto files = store::ListAuditArchives(dir);
    if (!files) return Unreadable(files.error().message);
    if (files->empty()) {
      if (live_.archived_through > 0) {
        fmt::print("no archive file in {}: {} (archived) not checked here\n", dir.string(),
                   Range(1, live_.archived_through));
      }
      return 0;
    }
    for (const store::AuditArchiveFile& f : *files) {
      if (const int code = Check(f); code != 0) return code;
    }
    if (live_.archived_through == 0) {
      return Broken("the log starts at entry 1: the archive files belong to another log");
    }
    if (const int code = Link(live_.first_seq, live_.first_prev_hash, "the log"); code != 0) {
      return code;
    }
    const int64_t first = files->front().first_seq;
    fmt::print("archive verified: {} file{} in {}, {}, chains intact and linked to the log{}\n",
               files->size(), files->size() == 1 ? "" : "s", dir.string(),
               Range(first, next_seq_ - 1),
               first > 1 ? fmt::format(" ({} in no archive file here)", Range(1, first - 1)) : "");
    return 0;
  }

 private:
  int Check(const store::AuditArchiveFile& f) {
    const std::string name = f.path.filename().string();
    auto store = store::SqliteAuditStore::OpenFile(f.path);
    if (!store) return Unreadable(name + ": " + store.error().message);
    auto report = identity::VerifyAudit(**store, key_);
    if (!report) return Unreadable(name + ": " + report.error().message);
    if (!report->ok) {
      return Broken(
          fmt::format("{} at entry {}: {}", name, report->first_bad_seq, report->problem));
    }
    if (report->first_seq != f.first_seq || report->last_seq != f.last_seq) {
      return Broken(fmt::format("{} holds {}, not what its name says", name,
                                Range(report->first_seq, report->last_seq)));
    }
    if (f.first_seq > 1 && report->archived_through != f.first_seq - 1) {
      return Broken(name + " has no anchor before its first entry");
    }
    if (const int code = Link(f.first_seq, report->first_prev_hash, name); code != 0) return code;
    next_seq_ = f.last_seq + 1;
    last_hash_ = report->last_hash;
    return 0;
  }

  // `what`, starting at `first_seq` after `prev_hash`, follows the files checked so far.
  int Link(int64_t first_seq, const std::string& prev_hash, const std::string& what) {
    if (next_seq_ == 0) return 0;  // the first file: nothing before it to link to
    if (first_seq > next_seq_) {
      return Broken(
          fmt::format("{} in no archive file (before {})", Range(next_seq_, first_seq - 1), what));
    }
    if (first_seq < next_seq_) {
      return Broken(fmt::format("{} overlaps the archive file before it", what));
    }
    if (prev_hash != last_hash_) {
      return Broken(what + " does not continue the chain of the archive file before it");
    }
    return 0;
  }

  static int Broken(const std::string& what) {
    fmt::print("audit archive BROKEN: {}\n", what);
    return 1;
  }
  static int Unreadable(const std::string& what) {
    fmt::print(stderr, "zhicheng: cannot read the audit archive: {}\n", what);
    return 2;
  }

  const identity::SigningKey& key_;
  const VerifyReport& live_;
  int64_t next_seq_ = 0;  // the entry the next file must start at (0 before the first)
  std::string last_hash_;
};

std::string LiveSummary(const VerifyReport& r) {
  std::string text = fmt::format("audit log verified: {} entries, {} checkpoints, chain intact",
                                 r.entries, r.checkpoints);
  if (r.archived_through > 0) {
    text += fmt::format(" ({} live; {} archived)", Range(r.first_seq, r.last_seq),
                        Range(1, r.archived_through));
  }
  return text;
}

}  // namespace

int AuditVerifyCommand(const fs::path& data_dir, const fs::path& archive_dir) {
  const auto db_file = data_dir / store::SqliteAuditStore::kFileName;
  std::error_code ec;
  if (!fs::exists(db_file, ec)) {
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
  fmt::print("{}\n", LiveSummary(*report));
  return ArchiveVerifier(*key, *report).Run(archive_dir);
}

Result<std::vector<store::AuditArchiveFile>> ArchiveAudit(store::SqliteAuditStore& log,
                                                          identity::AuditLog& audit,
                                                          const fs::path& archive_dir,
                                                          TimeMs cutoff, const std::string& actor) {
  constexpr int64_t kEntriesPerFile = 100000;
  auto files = store::ArchiveAuditLog(
      log, archive_dir, cutoff, kEntriesPerFile, [](const store::AuditArchiveFile& f) {
        spdlog::info("audit log: {} archived into {}", Range(f.first_seq, f.last_seq),
                     f.path.string());
      });
  if (files && files->empty()) return files;
  identity::AuditEntry entry{.actor = actor,
                             .actor_kind = "system",
                             .action = "audit.archive",
                             .target = archive_dir.string(),
                             .outcome = files ? "success" : "failure"};
  entry.detail = files ? fmt::format("{} in {} file(s), signed before {}",
                                     Range(files->front().first_seq, files->back().last_seq),
                                     files->size(), FormatIso8601(cutoff))
                       : files.error().message;
  audit.Record(std::move(entry));
  return files;
}

int AuditArchiveCommand(const fs::path& data_dir, const std::string& before,
                        const fs::path& archive_dir) {
  log::Init("warn");  // on stderr: stdout carries only what the command prints
  const auto cutoff = ParseIso8601(before);
  if (!cutoff) {
    fmt::print(stderr, "zhicheng audit archive: --before must be an ISO 8601 time\n");
    return 2;
  }
  std::error_code ec;
  if (!fs::exists(data_dir / store::SqliteAuditStore::kFileName, ec)) {
    fmt::print(stderr, "zhicheng audit archive: no audit log in {}\n", data_dir.string());
    return 2;
  }
  auto lock = DataDirLock::Acquire(data_dir);
  if (!lock) {
    fmt::print(stderr, "zhicheng audit archive: {} (stop the server first)\n",
               lock.error().message);
    return 2;
  }
  Config config;
  config.data_dir = data_dir;
  auto security = OpenSecurity(config);
  if (!security) {
    fmt::print(stderr, "zhicheng audit archive: {}\n", security.error().message);
    return 2;
  }
  auto files =
      ArchiveAudit(*security->audit_store, *security->audit, archive_dir, *cutoff, CliActor());
  security->audit->Flush();
  if (!files) {
    fmt::print(stderr, "zhicheng audit archive: {}\n", files.error().message);
    return 1;
  }
  for (const auto& f : *files) {
    fmt::print("{}: {}\n", f.path.string(), Range(f.first_seq, f.last_seq));
  }
  if (files->empty()) {
    fmt::print("nothing to archive: no entry signed before {} but the newest\n", before);
  }
  return 0;
}

}  // namespace zc::app
