// Tests of AuditTally, the tally of device requests per address: what a window's entry
// says, when windows close, and its bounds. Times are given, never waited for.
#include "identity/audit_tally.h"

#include <gtest/gtest.h>

#include "common/json.h"

namespace zc::identity {
namespace {

using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

AuditEntry Request(std::string target, std::string request_id,
                   std::string client = "10.1.2.3:40000", std::string outcome = "204") {
  return {.actor = "gauge-17",
          .actor_kind = "device",
          .department = "shuiwu",
          .client_address = std::move(client),
          .action = "PATCH /v2/entities/{entityId}/attrs",
          .target = std::move(target),
          .outcome = std::move(outcome),
          .request_id = std::move(request_id)};
}

bool AddTo(AuditTally& tally, AuditEntry e, Clock::time_point now) {
  return tally.Add(e, now);
}

json::bj::object Detail(const AuditEntry& e) {
  auto v = json::Parse(e.detail);
  EXPECT_TRUE(v) << e.detail;
  return v ? v->as_object() : json::bj::object{};
}

TEST(AuditTallyTest, OneEntryPerAddressActionAndOutcome) {
  AuditTally tally(seconds(60), 100);
  const auto t0 = Clock::now();
  const char* targets[] = {"/v2/entities/A/attrs", "/v2/entities/B/attrs", "/v2/entities/A/attrs",
                           "/v2/entities/C/attrs"};
  int n = 0;
  for (const char* target : targets) {
    AuditEntry e = Request(target, "r" + std::to_string(++n));
    ASSERT_TRUE(tally.Add(e, t0));
  }
  AuditEntry other_address = Request("/v2/entities/A/attrs", "r5", "10.1.2.3:40001");
  AuditEntry failed = Request("/v2/entities/A/attrs", "r6", "10.1.2.3:40000", "422");
  ASSERT_TRUE(tally.Add(other_address, t0));
  ASSERT_TRUE(tally.Add(failed, t0));

  std::vector<AuditEntry> out;
  EXPECT_EQ(tally.TakeAll(out), 3u);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].actor, "gauge-17");
  EXPECT_EQ(out[0].actor_kind, "device");
  EXPECT_EQ(out[0].department, "shuiwu");
  EXPECT_EQ(out[0].target, "/v2/entities/A/attrs");  // the first request's
  EXPECT_EQ(out[0].request_id, "r1");
  EXPECT_EQ(out[0].time, 0) << "dated when recorded";
  const auto d = Detail(out[0]);
  EXPECT_EQ(d.at("requests").to_number<int>(), 4);
  EXPECT_EQ(d.at("lastRequestId").as_string(), "r4");
  EXPECT_EQ(json::Dump(d.at("targets")),
            R"(["/v2/entities/A/attrs","/v2/entities/B/attrs","/v2/entities/C/attrs"])");
  EXPECT_EQ(d.at("otherTargets").to_number<int>(), 0);
  EXPECT_LE(ParseIso8601(d.at("first").as_string()), ParseIso8601(d.at("last").as_string()));
  EXPECT_EQ(out[1].client_address, "10.1.2.3:40001");
  EXPECT_EQ(Detail(out[1]).at("requests").to_number<int>(), 1);
  EXPECT_EQ(out[2].outcome, "422");
  EXPECT_FALSE(tally.NextClose()) << "nothing left open";
}

TEST(AuditTallyTest, WindowsCloseWhenTheirTimeIsUpInOpeningOrder) {
  AuditTally tally(seconds(60), 100);
  const auto t0 = Clock::now();
  ASSERT_TRUE(AddTo(tally, Request("/a", "r1", "10.0.0.1:1"), t0));
  ASSERT_TRUE(AddTo(tally, Request("/b", "r2", "10.0.0.2:1"), t0 + seconds(30)));
  ASSERT_TRUE(AddTo(tally, Request("/a", "r3", "10.0.0.1:1"), t0 + seconds(59)));  // same window
  EXPECT_EQ(tally.NextClose(), t0 + seconds(60));
  std::vector<AuditEntry> out;
  EXPECT_EQ(tally.TakeDue(t0 + seconds(59), out), 0u);
  EXPECT_EQ(tally.TakeDue(t0 + seconds(60), out), 1u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].client_address, "10.0.0.1:1");
  EXPECT_EQ(Detail(out[0]).at("requests").to_number<int>(), 2);
  EXPECT_EQ(tally.NextClose(), t0 + seconds(90));
  // A request after its window closed opens a new one.
  ASSERT_TRUE(AddTo(tally, Request("/a", "r4", "10.0.0.1:1"), t0 + seconds(61)));
  EXPECT_EQ(tally.TakeDue(t0 + seconds(121), out), 2u);
  EXPECT_EQ(out[1].client_address, "10.0.0.2:1");
  EXPECT_EQ(out[2].request_id, "r4");
}

TEST(AuditTallyTest, BoundsOnWindowsAndTargets) {
  AuditTally tally(seconds(60), 2);
  const auto t0 = Clock::now();
  ASSERT_TRUE(AddTo(tally, Request("/a", "r1", "10.0.0.1:1"), t0));
  ASSERT_TRUE(AddTo(tally, Request("/a", "r2", "10.0.0.1:2"), t0));
  AuditEntry third = Request("/a", "r3", "10.0.0.1:3");
  EXPECT_FALSE(tally.Add(third, t0)) << "a third window is over the bound";
  EXPECT_EQ(third.request_id, "r3") << "a refused entry is left to the caller";
  for (size_t i = 0; i < AuditTally::kMaxTargets + 5; ++i) {
    ASSERT_TRUE(AddTo(tally, Request("/e/" + std::to_string(i), "t", "10.0.0.1:1"), t0));
  }
  std::vector<AuditEntry> out;
  tally.TakeAll(out);
  const auto d = Detail(out.at(0));
  EXPECT_EQ(d.at("targets").as_array().size(), AuditTally::kMaxTargets);
  EXPECT_EQ(d.at("otherTargets").to_number<int>(), 6);  // "/a" and /e/0 .. /e/24 are 26
}

}  // namespace
}  // namespace zc::identity
