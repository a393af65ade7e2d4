// See backup.h. Files are listed relative to the data directory; the lock file and SQLite's
// -wal/-shm/-journal files are never part of a backup (a database's copy already holds its
// committed WAL content). Every file written is fsynced, then its directory, then the
// rename that publishes the whole, then the parent directory.
#include "app/backup.h"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include "common/clock.h"
#include "common/file_sync.h"
#include "common/json.h"
#include "common/result.h"
#include "identity/secrets.h"
#include "store/sqlite/audit_store.h"
#include "store/sqlite/backup.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_store.h"

namespace zc::app {
namespace fs = std::filesystem;
namespace {

constexpr int kManifestFormat = 1;
constexpr const char* kContextDb = store::SqliteStore::kFileName;
constexpr const char* kAuditDb = store::SqliteAuditStore::kFileName;

struct FileEntry {
  std::string path;  // relative, '/'-separated
  uintmax_t bytes = 0;
  std::string sha256;
};

bool IsDatabase(const fs::path& p) {
  return p.extension() == ".db";
}

// What a backup leaves out: the server's lock and SQLite's side files.
bool IsTransient(const fs::path& p) {
  const std::string name = p.filename().string();
  return name == "lock" || name.ends_with("-wal") || name.ends_with("-shm") ||
         name.ends_with("-journal");
}

// The files to back up, relative to `root`: databases first, the context store first of
// all and the audit log last (so that it holds the entries of what the others hold), then
// the rest, each group by path.
Result<std::vector<fs::path>> DataFiles(const fs::path& root) {
  std::vector<fs::path> dbs, others;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const fs::path rel = it->path().lexically_relative(root);
    if (it->is_directory(ec) || IsTransient(rel)) continue;
    if (!it->is_regular_file(ec)) {
      return Fail(Error::BadRequest("unexpected file in the data directory: " + rel.string()));
    }
    (IsDatabase(rel) ? dbs : others).push_back(rel);
  }
  if (ec) return Fail(Error::Internal("cannot list " + root.string() + ": " + ec.message()));
  auto rank = [](const fs::path& p) { return p == kContextDb ? 0 : p == kAuditDb ? 2 : 1; };
  std::sort(dbs.begin(), dbs.end(), [&](const fs::path& a, const fs::path& b) {
    return std::pair(rank(a), a) < std::pair(rank(b), b);
  });
  std::sort(others.begin(), others.end());
  dbs.insert(dbs.end(), others.begin(), others.end());
  return dbs;
}

// Gives `to` the permission bits of `from`.
void KeepPermissions(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  const fs::file_status status = fs::status(from, ec);
  if (!ec) fs::permissions(to, status.permissions(), ec);
}

// A directory that will receive a whole tree: absent, or empty.
Status CheckFreshTarget(const fs::path& dir, std::string_view what) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return Ok();
  if (fs::is_directory(dir, ec) && fs::is_empty(dir, ec)) return Ok();
  return Fail(
      Error::AlreadyExists(fmt::format("{} {} exists and is not empty", what, dir.string())));
}

// A sibling of `target` to build the tree in, renamed onto `target` when complete.
fs::path StagingFor(const fs::path& target, std::string_view purpose) {
  const fs::path absolute = fs::absolute(target).lexically_normal();
  const fs::path dir = absolute.filename().empty() ? absolute.parent_path() : absolute;
  return dir.parent_path() /
         fmt::format(".{}.{}-{}", dir.filename().string(), purpose, static_cast<int>(::getpid()));
}

// Renames the complete, synced `staging` onto `target` (absent or an empty directory).
Status Publish(const fs::path& staging, const fs::path& target) {
  if (auto s = SyncPath(staging); !s) return s;
  std::error_code ec;
  fs::rename(staging, target, ec);
  if (ec) {
    return Fail(Error::Internal("cannot rename into " + target.string() + ": " + ec.message()));
  }
  return SyncPath(fs::absolute(target).lexically_normal().parent_path());
}

// Prints "zhicheng.db 40% (1200 of 3000 pages)" lines at each tenth, and the last.
store::BackupProgress ProgressPrinter(const std::string& name) {
  return [name, shown = -1](int64_t done, int64_t total) mutable {
    const int tenth = total > 0 ? static_cast<int>(done * 10 / total) : 10;
    if (tenth == shown) return;
    shown = tenth;
    fmt::print("  {} {:3}% ({} of {} pages)\n", name, tenth * 10, done, total);
    std::fflush(stdout);
  };
}

// Copies one file of the data directory into the staging tree and describes it.
Result<FileEntry> CopyOne(const fs::path& data_dir, const fs::path& staging, const fs::path& rel) {
  const fs::path from = data_dir / rel, to = staging / rel;
  std::error_code ec;
  fs::create_directories(to.parent_path(), ec);
  if (ec) return Fail(Error::Internal("cannot create " + to.parent_path().string()));
  if (IsDatabase(rel)) {
    if (auto s = store::BackupDatabase(from, to, ProgressPrinter(rel.string())); !s) {
      return Fail(s.error());
    }
  } else {
    fs::copy_file(from, to, ec);
    if (ec) return Fail(Error::Internal("cannot copy " + from.string() + ": " + ec.message()));
    fmt::print("  {} copied\n", rel.string());
  }
  KeepPermissions(from, to);  // the audit key stays 0600
  if (auto s = SyncPath(to); !s) return Fail(s.error());
  auto sha = identity::Sha256FileHex(to);
  if (!sha) return Fail(sha.error());
  const uintmax_t bytes = fs::file_size(to, ec);
  if (ec) return Fail(Error::Internal("cannot read the size of " + to.string()));
  return FileEntry{rel.generic_string(), bytes, std::move(*sha)};
}

Status WriteManifest(const fs::path& staging, const fs::path& data_dir,
                     const std::vector<FileEntry>& files) {
  json::bj::array list;
  for (const FileEntry& f : files) {
    list.push_back({{"path", f.path}, {"bytes", f.bytes}, {"sha256", f.sha256}});
  }
  const json::bj::object manifest = {{"format", kManifestFormat},
                                     {"zhicheng", ZHICHENG_VERSION},
                                     {"created", FormatIso8601(NowMs())},
                                     {"source", fs::absolute(data_dir).lexically_normal().string()},
                                     {"files", std::move(list)}};
  const fs::path file = staging / kBackupManifest;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << json::Dump(manifest) << '\n';
  out.close();
  if (!out) return Fail(Error::Internal("cannot write " + file.string()));
  return SyncPath(file);
}

Status Backup(const fs::path& data_dir, const fs::path& dest, const fs::path& staging) {
  std::error_code ec;
  if (!fs::exists(data_dir / kContextDb, ec)) {
    return Fail(Error::NotFound("no data directory at " + data_dir.string() + " (no zhicheng.db)"));
  }
  if (auto s = CheckFreshTarget(dest, "the backup target"); !s) return s;
  const fs::path inner =
      fs::weakly_canonical(dest, ec).lexically_relative(fs::weakly_canonical(data_dir, ec));
  if (!ec && !inner.empty() && *inner.begin() != "..") {
    return Fail(Error::BadRequest("the backup target " + dest.string() +
                                  " is inside the data directory: choose another place"));
  }
  auto files = DataFiles(data_dir);
  if (!files) return Fail(files.error());
  fs::create_directories(staging, ec);
  if (ec) return Fail(Error::Internal("cannot create " + staging.string() + ": " + ec.message()));
  fs::permissions(staging, fs::perms::owner_all, ec);
  std::vector<FileEntry> entries;
  for (const fs::path& rel : *files) {
    auto entry = CopyOne(data_dir, staging, rel);
    if (!entry) return Fail(entry.error());
    entries.push_back(std::move(*entry));
  }
  if (auto s = WriteManifest(staging, data_dir, entries); !s) return s;
  return Publish(staging, dest);
}

// One file entry of a manifest: a plain relative path inside the backup, a size, a digest.
Result<FileEntry> ParseEntry(const json::bj::value& v) {
  const json::bj::object* f = v.if_object();
  const json::bj::value* path = f ? f->if_contains("path") : nullptr;
  const json::bj::value* bytes = f ? f->if_contains("bytes") : nullptr;
  const json::bj::value* sha = f ? f->if_contains("sha256") : nullptr;
  boost::system::error_code ec;
  const uintmax_t size = bytes != nullptr ? bytes->to_number<uintmax_t>(ec) : 0;
  if (path == nullptr || !path->is_string() || bytes == nullptr || ec || sha == nullptr ||
      !sha->is_string()) {
    return Fail(Error::BadRequest("malformed file entry: " + json::Dump(v)));
  }
  const fs::path rel(std::string(path->get_string()));
  const bool inside = !rel.empty() && rel.is_relative() &&
                      std::none_of(rel.begin(), rel.end(), [](const fs::path& part) {
                        return part == ".." || part == ".";
                      });
  if (!inside) return Fail(Error::BadRequest("a manifest path leaves the backup: " + rel.string()));
  return FileEntry{rel.generic_string(), size, std::string(sha->get_string())};
}

// The manifest of `backup`: its files, and the time it was made (into `created`).
Result<std::vector<FileEntry>> ReadManifest(const fs::path& backup, std::string& created) {
  const fs::path file = backup / kBackupManifest;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return Fail(Error::NotFound("not a Zhicheng backup: no " + std::string(kBackupManifest) +
                                " in " + backup.string()));
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto doc = json::Parse(text);
  const json::bj::object* o = doc ? doc->if_object() : nullptr;
  const json::bj::value* format = o ? o->if_contains("format") : nullptr;
  const json::bj::value* files = o ? o->if_contains("files") : nullptr;
  if (format == nullptr || !format->is_int64() || files == nullptr || !files->is_array()) {
    return Fail(Error::BadRequest("malformed manifest " + file.string()));
  }
  if (format->get_int64() != kManifestFormat) {
    return Fail(Error::BadRequest(fmt::format(
        "the backup's format {} is not this binary's ({}): use the zhicheng that made it",
        format->get_int64(), kManifestFormat)));
  }
  if (const auto* c = o->if_contains("created"); c != nullptr && c->is_string()) {
    created = std::string(c->get_string());
  }
  std::vector<FileEntry> out;
  for (const json::bj::value& v : files->get_array()) {
    auto entry = ParseEntry(v);
    if (!entry) return Fail(entry.error());
    out.push_back(std::move(*entry));
  }
  return out;
}

// Every listed file present with its size and SHA-256, every database sound, the context
// store present and of a schema this binary can open.
Status VerifyBackup(const fs::path& backup, const std::vector<FileEntry>& entries) {
  bool has_context_db = false;
  for (const FileEntry& e : entries) {
    const fs::path p = backup / e.path;
    std::error_code ec;
    const uintmax_t bytes = fs::file_size(p, ec);
    if (ec) return Fail(Error::NotFound("the backup is incomplete: " + e.path + " is missing"));
    if (bytes != e.bytes) {
      return Fail(Error::BadRequest(fmt::format(
          "the backup is damaged: {} has {} bytes, the manifest says {}", e.path, bytes, e.bytes)));
    }
    auto sha = identity::Sha256FileHex(p);
    if (!sha) return Fail(sha.error());
    if (*sha != e.sha256) {
      return Fail(
          Error::BadRequest("the backup is damaged: " + e.path + " does not match its SHA-256"));
    }
    if (IsDatabase(e.path)) {
      if (auto s = store::CheckDatabase(p); !s) return s;
    }
    if (e.path != kContextDb) continue;
    has_context_db = true;
    auto version = store::StoredSchemaVersion(p);
    if (!version) return Fail(version.error());
    if (*version > store::kSchemaVersion) {
      return Fail(
          Error::BadRequest(fmt::format("the backup's schema version {} is newer than this "
                                        "binary's ({}): restore it with a newer zhicheng",
                                        *version, store::kSchemaVersion)));
    }
  }
  if (!has_context_db) return Fail(Error::BadRequest("the backup has no zhicheng.db"));
  return Ok();
}

Status Restore(const fs::path& backup, const fs::path& data_dir, const fs::path& staging,
               std::string& created, size_t& restored) {
  auto entries = ReadManifest(backup, created);
  if (!entries) return Fail(entries.error());
  if (auto s = VerifyBackup(backup, *entries); !s) return s;
  if (auto s = CheckFreshTarget(data_dir, "the data directory"); !s) return s;
  std::error_code ec;
  fs::create_directories(staging, ec);
  if (ec) return Fail(Error::Internal("cannot create " + staging.string() + ": " + ec.message()));
  fs::permissions(staging, fs::perms::owner_all, ec);
  for (const FileEntry& e : *entries) {
    const fs::path from = backup / e.path, to = staging / e.path;
    fs::create_directories(to.parent_path(), ec);
    fs::copy_file(from, to, ec);
    if (ec) return Fail(Error::Internal("cannot copy " + from.string() + ": " + ec.message()));
    KeepPermissions(from, to);
    if (auto s = SyncPath(to); !s) return s;
    fmt::print("  {} restored\n", e.path);
  }
  restored = entries->size();
  return Publish(staging, data_dir);
}

}  // namespace

int BackupCommand(const fs::path& data_dir, const fs::path& dest) {
  identity::InitCrypto();
  const auto start = std::chrono::steady_clock::now();
  const fs::path staging = StagingFor(dest, "partial");
  fmt::print("backing up {} into {}\n", data_dir.string(), dest.string());
  if (auto s = Backup(data_dir, dest, staging); !s) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    fmt::print(stderr, "zhicheng: backup failed, nothing written: {}\n", s.error().message);
    return 2;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(
      "backup complete: {} ({:.1f} s); restore with: zhicheng restore --from {} --data DIR\n",
      dest.string(), seconds, dest.string());
  return 0;
}

int RestoreCommand(const fs::path& backup, const fs::path& data_dir) {
  identity::InitCrypto();
  const fs::path staging = StagingFor(data_dir, "restoring");
  fmt::print("checking the backup {}\n", backup.string());
  std::string created;
  size_t restored = 0;
  if (auto s = Restore(backup, data_dir, staging, created, restored); !s) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    fmt::print(stderr, "zhicheng: restore failed, nothing written: {}\n", s.error().message);
    return 2;
  }
  fmt::print(
      "restored {} files of the backup made {} into {}; start the server with: "
      "zhicheng serve --data {}\n",
      restored, created.empty() ? "(unknown time)" : created, data_dir.string(), data_dir.string());
  return 0;
}

}  // namespace zc::app
