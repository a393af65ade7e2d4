// A reader-writer mutex (the SharedMutex requirements, for std::shared_lock and
// std::unique_lock) in which a waiting writer goes before readers that arrive after it.
//
// std::shared_mutex on glibc lets a new reader in while a writer waits, so readers whose
// holds overlap (two dashboards scanning a large tenant) keep the writer out for as long as
// they keep coming. Here a reader that releases and takes the lock again lets a waiting
// writer through, which is what a long scan's pauses rely on.
//
// Not recursive for readers: a thread that holds it shared and takes it shared again
// deadlocks once a writer waits in between.
#pragma once

#include <pthread.h>

#include <system_error>

namespace zc {

class WriterFirstMutex {
 public:
  WriterFirstMutex() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&lock_, &attr);
    pthread_rwlockattr_destroy(&attr);
  }
  ~WriterFirstMutex() { pthread_rwlock_destroy(&lock_); }
  WriterFirstMutex(const WriterFirstMutex&) = delete;
  WriterFirstMutex& operator=(const WriterFirstMutex&) = delete;

  void lock() { Check(pthread_rwlock_wrlock(&lock_)); }
  bool try_lock() { return pthread_rwlock_trywrlock(&lock_) == 0; }
  void unlock() { pthread_rwlock_unlock(&lock_); }
  void lock_shared() { Check(pthread_rwlock_rdlock(&lock_)); }
  bool try_lock_shared() { return pthread_rwlock_tryrdlock(&lock_) == 0; }
  void unlock_shared() { pthread_rwlock_unlock(&lock_); }

 private:
  // EDEADLK and EAGAIN (too many readers) are bugs, as std::shared_mutex treats them.
  static void Check(int error) {
    if (error != 0) throw std::system_error(error, std::system_category(), "rwlock");
  }

  pthread_rwlock_t lock_;
};

}  // namespace zc
