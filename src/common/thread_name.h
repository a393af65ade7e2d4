// Names the calling thread, as `top -H`, `ps -L`, perf and gdb show it. Linux keeps 15
// bytes of a name; longer names are cut. Best effort: a failure changes nothing else.
#pragma once

#include <pthread.h>

#include <string>
#include <string_view>

namespace zc {

inline void NameThisThread(std::string_view name) {
  const std::string cut(name.substr(0, 15));
  pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace zc
