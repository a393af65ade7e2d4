// The change feed: a typed, in-process publish/subscribe of committed changes.
//
// A producer publishes an event only after the change it describes is durable; every
// subscriber receives events in commit order, on the publisher's thread. Subscribers must
// be quick (enqueue work, never block): the publisher is the storage writer thread.
// Consumers never call each other; each subscribes to the topics it needs.
//
// Subscribing is done at start-up, before publishing begins (not synchronized with Publish).
#pragma once

#include <functional>
#include <utility>
#include <vector>

namespace zc::feed {

template <typename Event>
class Topic {
 public:
  using Subscriber = std::function<void(const Event&)>;

  // REQUIRES: called before the first Publish (start-up wiring).
  void Subscribe(Subscriber s) { subscribers_.push_back(std::move(s)); }

  // Delivers `event` to every subscriber in subscription order.
  void Publish(const Event& event) const {
    for (const auto& s : subscribers_) s(event);
  }

  bool HasSubscribers() const { return !subscribers_.empty(); }

 private:
  std::vector<Subscriber> subscribers_;  // constant after start-up
};

}  // namespace zc::feed
