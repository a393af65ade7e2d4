#include "common/file_sync.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

namespace zc {

Status SyncPath(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Fail(Error::Internal("cannot open " + path.string() + " to sync it"));
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Fail(Error::Internal("fsync of " + path.string() + " failed"));
  return Ok();
}

}  // namespace zc
