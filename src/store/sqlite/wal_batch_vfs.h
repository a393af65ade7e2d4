// A SQLite VFS shim that hands a commit's WAL frames to the kernel in one write.
//
// SQLite writes each WAL frame with two pwrite calls (the 24-byte frame header, then the
// page), so a commit of 18 pages costs 36 system calls before its fsync. On this project's
// host (bench/wal_frames.cpp, docs/benchmarks.md) such a commit with its fdatasync took
// 61–73 µs of CPU, the same bytes in one pwrite 35 µs. The shim wraps the default VFS;
// for files SQLite opens as write-ahead logs it gathers writes that continue the previous
// one in a buffer and passes them on, as one write, before any other operation on the
// file: a sync, a read, a size query or truncation, a lock or file control, a write
// elsewhere, the close, or when the next write would take the buffer to 128 KiB (the most
// the unix VFS writes in one call). Every other file is the default VFS's own.
//
// REQUIRES of a connection opened with it: journal_mode=WAL and synchronous=FULL or EXTRA.
// With those, SQLite syncs the log before it publishes a commit in the WAL index, so no
// reader can look for a frame that is still in the buffer, and a commit is durable exactly
// when it was without the shim. (With synchronous=NORMAL a commit's frames could stay in
// the buffer while readers already see the commit: never use it there.)
#pragma once

namespace zc::store {

// The name to pass to sqlite3_open_v2; registers the VFS on first use (thread-safe).
const char* WalBatchVfs();

}  // namespace zc::store
