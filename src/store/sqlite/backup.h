// Online copies of the SQLite databases of a data directory, and their checks: the storage
// half of `zhicheng backup` and `zhicheng restore` (app/backup.h does the directory).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>

#include "common/result.h"

namespace zc::store {

// Called after each step of a copy with the pages copied so far and the database's pages.
using BackupProgress = std::function<void(int64_t done, int64_t total)>;

// Copies the database `source`, which a running server may go on writing, into the new file
// `target` as it stood at one moment. The copy reads inside one read transaction of its
// own: in WAL mode that never blocks the writer, and the writer's commits never restart it.
// The source is never written (no checkpoint on close). `target` ends as one self-contained
// file in rollback-journal mode, synced. Errors are Internal with SQLite's message.
Status BackupDatabase(const std::filesystem::path& source, const std::filesystem::path& target,
                      const BackupProgress& progress, int pages_per_step = 4096);

// Runs PRAGMA quick_check on `file` (opened read-only): Ok when SQLite finds it sound,
// Internal with its first complaint otherwise.
Status CheckDatabase(const std::filesystem::path& file);

// The schema version recorded in the context store's file (zhicheng.db), read-only.
Result<int> StoredSchemaVersion(const std::filesystem::path& file);

}  // namespace zc::store
