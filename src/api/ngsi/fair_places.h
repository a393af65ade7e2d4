// Places on the wire shared fairly between notification receivers.
//
// At most `total` items (notification requests) hold a place at once, and at most
// `per_receiver` of them go to one receiver (scheme, host and port). An item that finds no
// place waits with its receiver's others, in order; when places free up, the receivers with
// items waiting take turns (round robin). So a receiver that never answers holds at most
// `per_receiver` places, for its timeouts, and the other receivers' notifications go on:
// with one queue for all, a dead receiver watching 1,000 entities held every place, and a
// healthy receiver's notifications waited behind it until they were dropped.
//
// Not thread-safe: the owner serializes the calls.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace zc::api::ngsi {

template <typename Item>
class FairPlaces {
 public:
  FairPlaces(size_t total, size_t per_receiver) : total_(total), per_receiver_(per_receiver) {}

  // Takes a place for `item` (true: send it now, `item` untouched), or queues it (false:
  // `item` moved into the queue).
  bool TakeOrWait(const std::string& receiver, Item& item) {
    Receiver& r = receivers_[receiver];
    if (r.on_wire < per_receiver_ && taken_ < total_) {
      ++r.on_wire;
      ++taken_;
      return true;
    }
    r.waiting.push_back(std::move(item));
    if (r.on_wire < per_receiver_) Enqueue(receiver, r);  // only the total holds it back
    return false;
  }

  // Gives back a place of `receiver`. Returns the items that take the freed places (their
  // places taken), with their receivers: to be sent now.
  std::vector<std::pair<std::string, Item>> Leave(const std::string& receiver) {
    auto it = receivers_.find(receiver);
    --it->second.on_wire;
    --taken_;
    if (!it->second.waiting.empty()) Enqueue(receiver, it->second);
    std::vector<std::pair<std::string, Item>> go;
    while (taken_ < total_ && !turns_.empty()) {
      std::string next = std::move(turns_.front());
      turns_.pop_front();
      Receiver& r = receivers_.at(next);
      r.queued = false;
      go.emplace_back(next, std::move(r.waiting.front()));
      r.waiting.pop_front();
      ++r.on_wire;
      ++taken_;
      if (!r.waiting.empty() && r.on_wire < per_receiver_) Enqueue(next, r);
    }
    Forget(receiver);
    return go;
  }

  // Every waiting item, the queues emptied (at the stop).
  std::vector<Item> TakeAllWaiting() {
    std::vector<Item> all;
    for (auto& [name, r] : receivers_) {
      for (Item& item : r.waiting) all.push_back(std::move(item));
      r.waiting.clear();
      r.queued = false;
    }
    turns_.clear();
    return all;
  }

  size_t Taken() const { return taken_; }
  size_t Receivers() const { return receivers_.size(); }

 private:
  struct Receiver {
    size_t on_wire = 0;
    std::deque<Item> waiting;
    bool queued = false;  // in turns_
  };

  void Enqueue(const std::string& name, Receiver& r) {
    if (r.queued || r.on_wire >= per_receiver_) return;
    r.queued = true;
    turns_.push_back(name);
  }
  // Drops the bookkeeping of a receiver with nothing on the wire and nothing waiting.
  void Forget(const std::string& name) {
    auto it = receivers_.find(name);
    if (it != receivers_.end() && it->second.on_wire == 0 && it->second.waiting.empty() &&
        !it->second.queued) {
      receivers_.erase(it);
    }
  }

  const size_t total_;
  const size_t per_receiver_;
  size_t taken_ = 0;
  std::unordered_map<std::string, Receiver> receivers_;
  std::deque<std::string> turns_;  // receivers with items waiting for a place of the total
};

}  // namespace zc::api::ngsi
