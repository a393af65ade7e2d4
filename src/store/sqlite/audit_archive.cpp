// ArchiveAuditLog and ListAuditArchives (see audit_archive.h for the file format and the
// order of work).
#include "store/sqlite/audit_archive.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include "common/file_sync.h"

namespace zc::store {
namespace {

namespace fs = std::filesystem;
using identity::AuditCheckpoint;
using identity::AuditEntry;

std::string ArchiveName(int64_t first_seq, int64_t last_seq) {
  return fmt::format("audit-{:012}-{:012}.db", first_seq, last_seq);
}

// Parses "audit-<first>-<last>.db".
std::optional<AuditArchiveFile> ParseArchiveName(const fs::path& path) {
  const std::string name = path.filename().string();
  constexpr std::string_view kPrefix = "audit-", kSuffix = ".db";
  if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) return std::nullopt;
  const std::string_view seqs(name.data() + kPrefix.size(),
                              name.size() - kPrefix.size() - kSuffix.size());
  const size_t dash = seqs.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  AuditArchiveFile file{path, 0, 0};
  const auto parse = [](std::string_view text, int64_t& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size() && !text.empty();
  };
  if (!parse(seqs.substr(0, dash), file.first_seq) ||
      !parse(seqs.substr(dash + 1), file.last_seq) || file.first_seq > file.last_seq) {
    return std::nullopt;
  }
  return file;
}

void RemoveDatabase(const fs::path& file) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    fs::remove(fs::path(file.string() + suffix), ec);
  }
}

// Copies the entries after `anchor_seq` through `end` and their checkpoints (with the
// anchor's, when the log has it) into a new database at `file`: one commit per checkpoint.
Status CopyRun(SqliteAuditStore& log, const std::vector<AuditCheckpoint>& checkpoints,
               int64_t anchor_seq, const AuditCheckpoint& end, const fs::path& file) {
  auto out = SqliteAuditStore::OpenFile(file);
  if (!out) return Fail(out.error());
  auto next = std::lower_bound(checkpoints.begin(), checkpoints.end(), anchor_seq,
                               [](const AuditCheckpoint& cp, int64_t seq) { return cp.seq < seq; });
  if (next != checkpoints.end() && next->seq == anchor_seq) {
    if (auto s = (*out)->Append({}, *next); !s) return s;
    ++next;
  }
  std::vector<AuditEntry> group;
  auto scanned = log.ScanRange(anchor_seq, end.seq, [&](const AuditEntry& e) -> Status {
    group.push_back(e);
    if (next == checkpoints.end() || next->seq != e.seq) return Ok();
    const Status s = (*out)->Append(group, *next++);
    group.clear();
    return s;
  });
  if (!scanned) return scanned;
  if (!group.empty()) return Fail(Error::Internal("audit entries after the last checkpoint"));
  auto last = (*out)->Last();
  if (!last) return Fail(last.error());
  if (!*last || (*last)->seq != end.seq || (*last)->hash != end.hash) {
    return Fail(Error::Internal(
        fmt::format("{}: the copy does not end at entry {} as signed", file.string(), end.seq)));
  }
  return Ok();  // `out` closes here: its WAL is checkpointed into the file and removed
}

// True when the archive file `f` ends with the entry the log holds at its last seq.
Result<bool> SameChain(SqliteAuditStore& log, const AuditArchiveFile& f) {
  auto copy = SqliteAuditStore::OpenFile(f.path);
  if (!copy) return Fail(copy.error());
  auto copied = (*copy)->Last();
  if (!copied) return Fail(copied.error());
  auto held = log.Query({.after_seq = f.last_seq - 1, .limit = 1});
  if (!held) return Fail(held.error());
  return *copied && !held->empty() && held->front().seq == f.last_seq &&
         held->front().hash == (*copied)->hash;
}

// Removes the files of an earlier run that crashed between writing them and pruning their
// entries: they start at `first_seq`, which the log still holds. A file that starts there
// but is not a copy of the log's entries belongs to another log: refused, never removed.
Status RemoveStaleCopies(SqliteAuditStore& log, const fs::path& dir, int64_t first_seq) {
  auto files = ListAuditArchives(dir);
  if (!files) return Fail(files.error());
  for (const AuditArchiveFile& f : *files) {
    if (f.first_seq != first_seq) continue;
    auto same = SameChain(log, f);
    if (!same) return Fail(same.error());
    if (!*same) {
      return Fail(Error::Internal(f.path.string() +
                                  " holds entries of another audit log: give each data "
                                  "directory its own archive directory"));
    }
    RemoveDatabase(f.path);
  }
  return Ok();
}

Result<AuditArchiveFile> ArchiveRun(SqliteAuditStore& log, const fs::path& dir,
                                    const std::vector<AuditCheckpoint>& checkpoints,
                                    int64_t first_seq, const AuditCheckpoint& end) {
  if (auto s = RemoveStaleCopies(log, dir, first_seq); !s) return Fail(s.error());
  const AuditArchiveFile file{dir / ArchiveName(first_seq, end.seq), first_seq, end.seq};
  const fs::path temporary = file.path.string() + ".tmp";
  RemoveDatabase(temporary);
  if (auto s = CopyRun(log, checkpoints, first_seq - 1, end, temporary); !s) {
    RemoveDatabase(temporary);
    return Fail(s.error());
  }
  std::error_code ec;
  fs::rename(temporary, file.path, ec);
  if (ec) return Fail(Error::Internal("rename to " + file.path.string() + ": " + ec.message()));
  if (auto s = SyncPath(dir); !s) return Fail(s.error());
  if (auto s = log.PruneThrough(end.seq); !s) return Fail(s.error());
  return file;
}

}  // namespace

Result<std::vector<AuditArchiveFile>> ArchiveAuditLog(SqliteAuditStore& log, const fs::path& dir,
                                                      TimeMs cutoff, int64_t max_entries_per_file,
                                                      const ArchiveProgress& progress) {
  auto first = log.Query({.limit = 1});
  if (!first) return Fail(first.error());
  auto last = log.Last();
  if (!last) return Fail(last.error());
  auto checkpoints = log.Checkpoints();
  if (!checkpoints) return Fail(checkpoints.error());
  std::vector<AuditArchiveFile> written;
  if (first->empty() || !*last) return written;
  const auto plan = identity::ArchivePlan(*checkpoints, first->front().seq, (*last)->seq, cutoff,
                                          max_entries_per_file);
  if (plan.empty()) return written;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Fail(Error::Internal("create " + dir.string() + ": " + ec.message()));
  int64_t next_seq = first->front().seq;
  for (const AuditCheckpoint& end : plan) {
    auto file = ArchiveRun(log, dir, *checkpoints, next_seq, end);
    if (!file) return Fail(file.error());
    next_seq = end.seq + 1;
    written.push_back(*file);
    if (progress) progress(*file);
  }
  return written;
}

Result<std::vector<AuditArchiveFile>> ListAuditArchives(const fs::path& dir) {
  std::vector<AuditArchiveFile> files;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (auto f = ParseArchiveName(it->path())) files.push_back(std::move(*f));
  }
  if (ec) return Fail(Error::Internal("read " + dir.string() + ": " + ec.message()));
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return a.first_seq < b.first_seq; });
  return files;
}

}  // namespace zc::store
