// The cost of writing a commit's WAL frames as SQLite does (two pwrite calls per frame: the
// 24-byte header, then the 4 KiB page) against the same bytes in one pwrite, each commit
// followed by fdatasync: the measurement behind store/sqlite/wal_batch_vfs.h.
//
//   g++ -O2 -std=c++17 -o /tmp/wal_frames bench/wal_frames.cpp && /tmp/wal_frames DIR [FRAMES]
//
// DIR: a directory on the disk to measure (a scratch file is created and removed there).
// Prints wall and CPU (user + system) microseconds per commit for both ways.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

double CpuMicros() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 + r.ru_utime.tv_usec + r.ru_stime.tv_usec;
}

void Run(const std::string& file, int frames, bool gathered) {
  constexpr int kCommits = 3000;
  constexpr off_t kRestartAt = 64 << 20;  // start over like a checkpointed log
  const std::vector<char> header(24, 'h'), page(4096, 'p');
  const std::vector<char> all(static_cast<size_t>(frames) * (24 + 4096), 'a');
  const int fd = open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    perror(file.c_str());
    std::exit(1);
  }
  off_t offset = 0;
  const double cpu0 = CpuMicros();
  const auto wall0 = std::chrono::steady_clock::now();
  for (int commit = 0; commit < kCommits; ++commit) {
    if (offset > kRestartAt) offset = 0;
    if (gathered) {
      offset += pwrite(fd, all.data(), all.size(), offset);
    } else {
      for (int f = 0; f < frames; ++f) {
        offset += pwrite(fd, header.data(), header.size(), offset);
        offset += pwrite(fd, page.data(), page.size(), offset);
      }
    }
    fdatasync(fd);
  }
  const double wall =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - wall0).count();
  std::printf("%-28s wall %6.1f us/commit, cpu %6.1f us/commit\n",
              gathered ? "one pwrite per commit" : "two pwrites per frame", wall / kCommits,
              (CpuMicros() - cpu0) / kCommits);
  close(fd);
  unlink(file.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [FRAMES=18]\n", argv[0]);
    return 2;
  }
  const int frames = argc > 2 ? std::atoi(argv[2]) : 18;
  const std::string file = std::string(argv[1]) + "/wal_frames.tmp";
  std::printf("%d frames of 4 KiB per commit, 3000 commits, fdatasync after each\n", frames);
  Run(file, frames, false);
  Run(file, frames, true);
}
