#include "context/entity_codec.h"

#include <gtest/gtest.h>

namespace zc::context {
namespace {

TEST(EntityCodec, RoundTripsEverything) {
  Entity e{.id = "Station1", .type = "WeatherObserved", .service_path = "/gaoming"};
  e.created = 1000;
  e.modified = 2000;
  e.expires = 3000;
  Attribute t{.type = "Number", .value = 21.5, .created = 1000, .modified = 2000};
  t.metadata.emplace_back("unitCode", Metadata{"Text", "CEL"});
  e.attrs.emplace_back("temperature", t);
  e.attrs.emplace_back(
      "address", Attribute{.type = "StructuredValue", .value = bj::object{{"town", "明城镇"}}});
  auto back = DecodeEntity(EncodeEntity(e));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->id, "Station1");
  EXPECT_EQ(back->service_path, "/gaoming");
  EXPECT_EQ(back->expires, 3000);
  ASSERT_EQ(back->attrs.size(), 2u);
  EXPECT_EQ(back->attrs[0].first, "temperature");
  EXPECT_EQ(back->attrs[0].second.value, bj::value(21.5));
  EXPECT_EQ(back->attrs[0].second.metadata[0].second.value, bj::value("CEL"));
  EXPECT_EQ(back->attrs[1].second.value.at("town"), bj::value("明城镇"));
}

TEST(EntityCodec, RejectsCorruptRows) {
  EXPECT_FALSE(DecodeEntity("not json"));
  EXPECT_FALSE(DecodeEntity(R"({"id":"x"})"));
  EXPECT_FALSE(DecodeEntity(R"({"id":"x","type":"T","sp":"/","a":[["t"]]})"));
}

}  // namespace
}  // namespace zc::context
