// The pausing scan of a tenant's state (service_impl.h): it lets the writer in and goes on
// from where it was, whatever the writer changed meanwhile.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "context/service_impl.h"

namespace zc::context::detail {
namespace {

EntityPtr Numbered(uint64_t no) {
  return std::make_shared<const Entity>(Entity{.id = std::to_string(no), .type = "T"});
}

// A writer that queues while the scan is at its first entity gets in at the first pause,
// removes and adds entities, and the scan goes on after the last one it saw.
TEST(ScanTest, AScanLetsTheWriterInEvery1024EntitiesAndResumesAfterItsChanges) {
  TenantState state;
  std::map<uint64_t, EntityPtr> numbered;
  for (uint64_t no = 1; no <= 3000; ++no) numbered.emplace(no, Numbered(no));
  std::vector<uint64_t> seen;
  size_t seen_by_writer = 0;
  std::thread writer;
  {
    ScanLock scan(state);
    WalkNumbered(
        scan, [&] { return &numbered; },
        [&](uint64_t no, const EntityPtr& e) {
          EXPECT_EQ(e->id, std::to_string(no));
          seen.push_back(no);
          if (seen.size() == 1) {
            writer = std::thread([&] {
              std::unique_lock lock(state.mu);
              seen_by_writer = seen.size();
              for (uint64_t gone = 1020; gone <= 1030; ++gone) numbered.erase(gone);
              numbered.emplace(5000, Numbered(5000));
            });
            // The writer is queued once a (non-blocking) second shared hold is refused.
            while (state.mu.try_lock_shared()) {
              state.mu.unlock_shared();
              std::this_thread::yield();
            }
          }
          return true;
        });
  }
  writer.join();
  EXPECT_EQ(seen_by_writer, 1024u);
  std::vector<uint64_t> expected;
  for (uint64_t no = 1; no <= 1024; ++no) expected.push_back(no);
  for (uint64_t no = 1031; no <= 3000; ++no) expected.push_back(no);
  expected.push_back(5000);
  EXPECT_EQ(seen, expected);
}

TEST(ScanTest, AScanStopsWhenTheVisitSaysSoOrTheMapIsGone) {
  TenantState state;
  std::map<uint64_t, EntityPtr> numbered;
  for (uint64_t no = 1; no <= 2000; ++no) numbered.emplace(no, Numbered(no));
  ScanLock scan(state);
  size_t visits = 0;
  WalkNumbered(
      scan, [&] { return &numbered; }, [&](uint64_t, const EntityPtr&) { return ++visits < 10; });
  EXPECT_EQ(visits, 10u);
  ScanLock again(state);
  int finds = 0;
  visits = 0;
  WalkNumbered(
      again,
      [&]() -> const std::map<uint64_t, EntityPtr>* { return ++finds == 1 ? &numbered : nullptr; },
      [&](uint64_t, const EntityPtr&) { return ++visits > 0; });
  EXPECT_EQ(visits, 1024u) << "the type's last entity went during the pause";
}

}  // namespace
}  // namespace zc::context::detail
