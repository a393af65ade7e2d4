// The WAL-batching VFS shim (see wal_batch_vfs.h). A wrapped file is a BatchFile followed by
// the default VFS's own file object; the BatchFile's methods flush the buffer and forward.
#include "store/sqlite/wal_batch_vfs.h"

#include <sqlite3.h>

#include <cstring>
#include <mutex>
#include <string>

namespace zc::store {
namespace {

// The most one write may carry: the unix VFS masks a write's size to 17 bits (its
// seekAndWriteFd), so 128 KiB or more would be cut short. 31 frames of 4 KiB pages.
constexpr size_t kMaxBuffer = 0x1ffff;

struct BatchFile {
  sqlite3_file base;    // pMethods points at kBatchMethods
  sqlite3_file* real;   // the default VFS's file, in the same allocation after this struct
  std::string* buffer;  // writes not yet passed on, starting at buffer_offset
  sqlite3_int64 buffer_offset;
};

constexpr size_t kRealOffset = (sizeof(BatchFile) + 7) & ~size_t{7};

sqlite3_vfs* Root(sqlite3_vfs* vfs) {
  return static_cast<sqlite3_vfs*>(vfs->pAppData);
}

BatchFile* Batch(sqlite3_file* file) {
  return reinterpret_cast<BatchFile*>(file);
}

int Flush(BatchFile* f) {
  if (f->buffer->empty()) return SQLITE_OK;
  const int rc = f->real->pMethods->xWrite(f->real, f->buffer->data(),
                                           static_cast<int>(f->buffer->size()), f->buffer_offset);
  f->buffer->clear();
  return rc;
}

int Write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  BatchFile* f = Batch(file);
  const bool continues = offset == f->buffer_offset + static_cast<sqlite3_int64>(f->buffer->size());
  if (!f->buffer->empty() && (!continues || f->buffer->size() + amount > kMaxBuffer)) {
    if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
  }
  if (f->buffer->empty()) f->buffer_offset = offset;
  f->buffer->append(static_cast<const char*>(data), static_cast<size_t>(amount));
  return SQLITE_OK;
}

int Close(sqlite3_file* file) {
  BatchFile* f = Batch(file);
  const int flushed = Flush(f);
  const int closed = f->real->pMethods->xClose(f->real);
  delete f->buffer;
  f->buffer = nullptr;
  return flushed != SQLITE_OK ? flushed : closed;
}

// Flushes, then calls the default VFS's method with the same arguments.
template <auto Method, typename... Args>
int FlushThen(sqlite3_file* file, Args... args) {
  BatchFile* f = Batch(file);
  if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
  return (f->real->pMethods->*Method)(f->real, args...);
}

int SectorSize(sqlite3_file* file) {
  BatchFile* f = Batch(file);
  return f->real->pMethods->xSectorSize(f->real);
}

int DeviceCharacteristics(sqlite3_file* file) {
  BatchFile* f = Batch(file);
  return f->real->pMethods->xDeviceCharacteristics(f->real);
}

// Version 1: a log file has no shared memory or memory mapping of its own.
const sqlite3_io_methods kBatchMethods = {
    1,
    Close,
    FlushThen<&sqlite3_io_methods::xRead, void*, int, sqlite3_int64>,
    Write,
    FlushThen<&sqlite3_io_methods::xTruncate, sqlite3_int64>,
    FlushThen<&sqlite3_io_methods::xSync, int>,
    FlushThen<&sqlite3_io_methods::xFileSize, sqlite3_int64*>,
    FlushThen<&sqlite3_io_methods::xLock, int>,
    FlushThen<&sqlite3_io_methods::xUnlock, int>,
    FlushThen<&sqlite3_io_methods::xCheckReservedLock, int*>,
    FlushThen<&sqlite3_io_methods::xFileControl, int, void*>,
    SectorSize,
    DeviceCharacteristics,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  sqlite3_vfs* root = Root(vfs);
  if ((flags & SQLITE_OPEN_WAL) == 0) return root->xOpen(root, name, file, flags, out_flags);
  BatchFile* f = Batch(file);
  std::memset(f, 0, sizeof(BatchFile));
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealOffset);
  const int rc = root->xOpen(root, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {  // base.pMethods stays null: SQLite will not close this file
    if (f->real->pMethods != nullptr) f->real->pMethods->xClose(f->real);
    return rc;
  }
  f->buffer = new std::string();
  f->base.pMethods = &kBatchMethods;
  return SQLITE_OK;
}

// The remaining VFS methods are the default VFS's.
int Delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return Root(vfs)->xDelete(Root(vfs), name, sync_dir);
}
int Access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return Root(vfs)->xAccess(Root(vfs), name, flags, out);
}
int FullPathname(sqlite3_vfs* vfs, const char* name, int size, char* out) {
  return Root(vfs)->xFullPathname(Root(vfs), name, size, out);
}
int Randomness(sqlite3_vfs* vfs, int size, char* out) {
  return Root(vfs)->xRandomness(Root(vfs), size, out);
}
int Sleep(sqlite3_vfs* vfs, int microseconds) {
  return Root(vfs)->xSleep(Root(vfs), microseconds);
}
int CurrentTime(sqlite3_vfs* vfs, double* out) {
  return Root(vfs)->xCurrentTime(Root(vfs), out);
}
int GetLastError(sqlite3_vfs* vfs, int size, char* out) {
  return Root(vfs)->xGetLastError(Root(vfs), size, out);
}
int CurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return Root(vfs)->xCurrentTimeInt64(Root(vfs), out);
}

}  // namespace

const char* WalBatchVfs() {
  static constexpr const char* kName = "zhicheng-wal-batch";
  static sqlite3_vfs vfs{};
  static std::once_flag once;
  std::call_once(once, [] {
    sqlite3_vfs* root = sqlite3_vfs_find(nullptr);
    vfs.iVersion = 2;
    vfs.szOsFile = static_cast<int>(kRealOffset) + root->szOsFile;
    vfs.mxPathname = root->mxPathname;
    vfs.zName = kName;
    vfs.pAppData = root;
    vfs.xOpen = Open;
    vfs.xDelete = Delete;
    vfs.xAccess = Access;
    vfs.xFullPathname = FullPathname;
    vfs.xRandomness = Randomness;
    vfs.xSleep = Sleep;
    vfs.xCurrentTime = CurrentTime;
    vfs.xGetLastError = GetLastError;
    vfs.xCurrentTimeInt64 = CurrentTimeInt64;
    sqlite3_vfs_register(&vfs, 0);
  });
  return kName;
}

}  // namespace zc::store
