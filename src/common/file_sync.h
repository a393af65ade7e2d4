// Making a file's or a directory's contents durable: what a write-then-rename needs on
// both sides of the rename (the file's data, then the directory that names it).
#pragma once

#include <filesystem>

#include "common/result.h"

namespace zc {

// fsync() of `path`, a regular file or a directory. Internal when it cannot be opened or
// the sync fails.
Status SyncPath(const std::filesystem::path& path);

}  // namespace zc
