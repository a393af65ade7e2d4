#include "context/entity.h"

#include <gtest/gtest.h>

namespace zc::context {
namespace {

// Without numbers, the estimate is the JSON text give or take one separator per container.
TEST(EntitySizeTest, ApproxJsonBytesFollowsTheJsonText) {
  for (const char* text : {R"("a picture")", R"({"a":"xyz","b":[true,null]})", R"([])",
                           R"({"nested":{"deeper":["x","yy",{"z":false}]}})"}) {
    const bj::value v = bj::parse(text);
    const size_t json = bj::serialize(v).size();
    const size_t approx = ApproxJsonBytes(v);
    EXPECT_GE(approx, json) << text;
    EXPECT_LE(approx, json + 4) << text;
  }
  EXPECT_EQ(ApproxJsonBytes(bj::value(12345678901.5)), 8u);
  EXPECT_EQ(ApproxJsonBytes(bj::value(bj::string(1000, 'x'))), 1002u);
}

TEST(EntitySizeTest, ApproxEntityBytesCountsNamesValuesAndMetadata) {
  Entity e{.id = "cam1", .type = "Camera"};
  const size_t empty = ApproxEntityBytes(e);
  e.attrs.emplace_back("picture", Attribute{.type = "Text", .value = bj::string(100000, 'p')});
  const size_t one = ApproxEntityBytes(e);
  EXPECT_GT(one, empty + 100000);
  EXPECT_LT(one, empty + 100100);
  e.attrs.back().second.metadata.emplace_back("caption", Metadata{.type = "Text", .value = "gate"});
  EXPECT_GT(ApproxEntityBytes(e), one + 10);
}

}  // namespace
}  // namespace zc::context
