// `zhicheng backup` and `zhicheng restore`: a data directory copied while the server runs,
// and put back in place of nothing (a new or empty directory).
//
// A backup is a directory: every SQLite database of the data directory copied online (one
// consistent snapshot per database, store/sqlite/backup.h), every other file (the audit
// key) copied as it is, and zhicheng-backup.json listing each file with its size and
// SHA-256. It is written under a temporary name and renamed into place once complete and
// synced, so a DEST that exists is a whole backup. `restore` checks all of it (checksums,
// SQLite's quick_check, a schema this binary can open) before it copies anything.
#pragma once

#include <filesystem>

namespace zc::app {

// The manifest's file name in a backup directory.
inline constexpr const char* kBackupManifest = "zhicheng-backup.json";

// Backs up DATA into DEST (absent or an empty directory). Progress and the summary go to
// stdout, errors to stderr. Returns the exit code: 0 done, 2 nothing written (the reason
// printed).
int BackupCommand(const std::filesystem::path& data_dir, const std::filesystem::path& dest);

// Restores the backup BACKUP into DATA (absent or an empty directory), after checking it
// whole. Returns 0 done, 2 nothing written (the reason printed).
int RestoreCommand(const std::filesystem::path& backup, const std::filesystem::path& data_dir);

}  // namespace zc::app
