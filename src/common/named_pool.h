// Names the threads of a boost::asio::thread_pool (thread_name.h), so that `top -H` tells the
// pools apart.
#pragma once

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstddef>
#include <latch>
#include <memory>
#include <string>
#include <string_view>

#include "common/thread_name.h"

namespace zc {

// Names every one of the `threads` threads of `pool`: each takes one naming job and holds
// it until all have one, so no thread takes two. Call right after constructing the pool,
// before posting other work; returns once all are named.
inline void NamePoolThreads(boost::asio::thread_pool& pool, size_t threads, std::string_view name) {
  auto named = std::make_shared<std::latch>(static_cast<std::ptrdiff_t>(threads));
  for (size_t i = 0; i < threads; ++i) {
    boost::asio::post(pool, [named, name = std::string(name)] {
      NameThisThread(name);
      named->arrive_and_wait();
    });
  }
  named->wait();
}

}  // namespace zc
