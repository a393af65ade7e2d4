// Tests of the QuantumLeap handlers and parameter parsing over a real SqliteStore in a temp
// directory: response shapes, windows (lastN/limit/offset), time ranges, aggregation with
// and without periods, tenancy headers and QuantumLeap's error bodies.
#include "api/ql/handlers.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "api/ql/params.h"
#include "store/sqlite/sqlite_store.h"

namespace zc::api::ql {
namespace {

constexpr TimeMs kDay = 86'400'000;

class QlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "zc-ql-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    auto s = store::SqliteStore::Open(dir_);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    store_ = std::move(*s);
    // Room0 (Room, tenant ""): temperature = day index on 30 days; pressure on even days.
    context::WriteBatch b;
    for (int d = 0; d < 30; ++d) {
      b.history.push_back(Row("Room0", "Room", "temperature", d * kDay, std::to_string(d)));
      if (d % 2 == 0) b.history.push_back(Row("Room0", "Room", "pressure", d * kDay, "1000"));
    }
    b.history.push_back(Row("Room1", "Room", "temperature", 3 * kDay, "7", "/b"));
    b.history.push_back(Row("Room0", "Room", "name", 0, "\"kitchen\""));
    // Dev1: a Number sent as text, as IoT Agents send UltraLight measures.
    b.history.push_back(Row("Dev1", "Dev", "t", 0, "\"21.5\""));
    b.history.push_back(Row("Dev1", "Dev", "t", kDay, "\"22.5\""));
    b.history.push_back(Row("Dev1", "Dev", "t", 2 * kDay, "\"n/a\""));
    b.history.push_back(Row("Dup", "A", "x", 0, "1"));
    b.history.push_back(Row("Dup", "B", "x", 0, "2"));
    ASSERT_TRUE(store_->Commit(b).has_value());
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  static context::HistoryRow Row(std::string id, std::string type, std::string attr, TimeMs t,
                                 std::string value, std::string sp = "/a") {
    return {"", std::move(sp),   std::move(id), std::move(type), std::move(attr), "Number",
            t,  std::move(value)};
  }

  // Calls `fn` with a GET of `target` ("?a=b&c=d" is split into the query), route params and
  // headers as given.
  http::Response Call(http::Response (*fn)(context::ContextStore&, const http::RequestContext&,
                                           Shape),
                      std::vector<std::pair<std::string, std::string>> params,
                      std::vector<std::pair<std::string, std::string>> query,
                      std::vector<std::pair<std::string, std::string>> headers = {},
                      Shape shape = Shape::kFull) {
    http::BeastRequest raw{http::Verb::get, "/ql/v2", 11};
    for (const auto& [k, v] : headers) raw.set(k, v);
    http::RequestContext ctx{raw, "/ql/v2", std::move(query), std::move(params)};
    ctx.identity = identity_;
    return fn(*store_, ctx, shape);
  }
  http::Response Attr(std::vector<std::pair<std::string, std::string>> query,
                      std::string attr = "temperature", std::string id = "Room0") {
    return Call(&GetEntityAttr, {{"entityId", id}, {"attrName", attr}}, std::move(query));
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::SqliteStore> store_;
  http::Identity identity_;  // the caller of Call: anonymous, every tenant read-write
};

TEST_F(QlTest, EntityAttrDefaultsAndWindows) {
  auto r = Attr({{"type", "Room"}, {"lastN", "2"}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, R"({"entityId":"Room0","entityType":"Room","attrName":"temperature","index":)"
                    R"(["1970-01-29T00:00:00.000+00:00","1970-01-30T00:00:00.000+00:00"],)"
                    R"("values":[28,29]})");
  r = Attr({{"fromDate", "1970-01-06T00:00:00+00:00"}, {"toDate", "1970-01-17"}});
  EXPECT_NE(r.body.find(R"("values":[5,6,7,8,9,10,11,12,13,14,15,16]})"), std::string::npos)
      << r.body;
  r = Attr({{"offset", "2"}, {"limit", "3"}});
  EXPECT_NE(r.body.find(R"("values":[2,3,4]})"), std::string::npos) << r.body;
  r = Call(&GetEntityAttr, {{"entityId", "Room0"}, {"attrName", "temperature"}}, {{"lastN", "1"}},
           {}, Shape::kValues);
  EXPECT_EQ(r.body, R"({"index":["1970-01-30T00:00:00.000+00:00"],"values":[29]})");
}

TEST_F(QlTest, EntityAlignsAttributesOnTheIndex) {
  auto r = Call(&GetEntity, {{"entityId", "Room0"}}, {{"lastN", "2"}});
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.body, R"({"entityId":"Room0","entityType":"Room","index":)"
                    R"(["1970-01-29T00:00:00.000+00:00","1970-01-30T00:00:00.000+00:00"],)"
                    R"("attributes":[{"attrName":"pressure","values":[1000,null]},)"
                    R"({"attrName":"temperature","values":[28,29]}]})");
  r = Call(&GetEntity, {{"entityId", "Room0"}}, {{"attrs", "name,pressure"}, {"limit", "1"}});
  EXPECT_EQ(r.body, R"({"entityId":"Room0","entityType":"Room","index":)"
                    R"(["1970-01-01T00:00:00.000+00:00"],"attributes":[{"attrName":"name",)"
                    R"("values":["kitchen"]},{"attrName":"pressure","values":[1000]}]})");
}

TEST_F(QlTest, TypeAttrListsEntitiesInIdOrder) {
  auto r = Call(&GetTypeAttr, {{"entityType", "Room"}, {"attrName", "temperature"}},
                {{"id", "Room1,Room0"}, {"fromDate", "1970-01-04"}, {"toDate", "1970-01-05"}});
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.body,
            R"({"entityType":"Room","attrName":"temperature","entities":[)"
            R"({"entityId":"Room1","index":["1970-01-04T00:00:00.000+00:00"],"values":[7]},)"
            R"({"entityId":"Room0","index":["1970-01-04T00:00:00.000+00:00",)"
            R"("1970-01-05T00:00:00.000+00:00"],"values":[3,4]}]})");
  r = Call(&GetTypeAttr, {{"entityType", "Room"}, {"attrName", "temperature"}},
           {{"aggrMethod", "max"}}, {}, Shape::kValues);
  EXPECT_EQ(r.body, R"({"values":[{"entityId":"Room0","index":[],"values":[29]},)"
                    R"({"entityId":"Room1","index":[],"values":[7]}]})");
  r = Call(&GetTypeAttr, {{"entityType", "Room"}, {"attrName", "temperature"}},
           {{"aggrMethod", "count"}, {"id", "Room1"}, {"fromDate", "1970-01-01"}});
  EXPECT_NE(r.body.find(R"("index":["1970-01-01",""],"values":[1])"), std::string::npos) << r.body;
}

TEST_F(QlTest, AggregatesOverTheWholeRange) {
  const std::pair<const char*, const char*> cases[] = {
      {"count", "30"}, {"sum", "435"}, {"avg", "14.5"}, {"min", "0"}, {"max", "29"}};
  for (const auto& [method, value] : cases) {
    auto r = Attr({{"aggrMethod", method}});
    EXPECT_EQ(r.body, std::string(R"({"entityId":"Room0","entityType":"Room",)") +
                          R"("attrName":"temperature","index":[],"values":[)" + value + "]}")
        << method;
  }
}

TEST_F(QlTest, AggregatesPerPeriod) {
  auto r = Attr({{"aggrMethod", "avg"}, {"aggrPeriod", "month"}});
  EXPECT_NE(r.body.find(R"("index":["1970-01-01T00:00:00.000+00:00"],"values":[14.5])"),
            std::string::npos)
      << r.body;
  r = Attr({{"aggrMethod", "sum"}, {"aggrPeriod", "day"}, {"lastN", "2"}});
  EXPECT_NE(r.body.find(R"(,"values":[28,29]})"), std::string::npos) << r.body;
  r = Call(&GetEntity, {{"entityId", "Room0"}},
           {{"aggrMethod", "count"}, {"attrs", "name,temperature"}});
  EXPECT_NE(r.body.find(R"("index":[],"attributes":[{"attrName":"name","values":[1]},)"),
            std::string::npos)
      << r.body;
  // As QuantumLeap: aggregating an entity needs attrs.
  r = Call(&GetEntity, {{"entityId", "Room0"}}, {{"aggrMethod", "count"}});
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(
      r.body,
      R"({"error":"Bad Request","description":"Specified aggrMethod = count but missing attrs parameter."})");
}

TEST_F(QlTest, NumbersSentAsTextAreReadAsNumbersAsQuantumLeapCastsThem) {
  auto r = Attr({}, "t", "Dev1");
  EXPECT_NE(r.body.find(R"("values":[21.5,22.5,"n/a"])"), std::string::npos) << r.body;
  r = Attr({{"aggrMethod", "avg"}}, "t", "Dev1");
  EXPECT_NE(r.body.find(R"("values":[22])"), std::string::npos) << r.body;
  r = Attr({{"aggrMethod", "max"}}, "t", "Dev1");
  EXPECT_NE(r.body.find(R"("values":[22.5])"), std::string::npos) << r.body;
}

TEST_F(QlTest, NumericAggregationOfTextIsNotApplicable) {
  auto r = Attr({{"aggrMethod", "sum"}}, "name");
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(r.body, R"({"error":"AggrMethod cannot be applied","description":)"
                    R"("AggrMethod cannot be applied on type TEXT and BOOLEAN."})");
  EXPECT_EQ(Attr({{"aggrMethod", "count"}}, "name").status, 200u);
}

TEST_F(QlTest, NotFoundHasQuantumLeapBody) {
  auto r = Attr({}, "temperature", "Nobody");
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(r.body,
            R"({"error":"Not Found","description":"No records were found for such query."})");
  EXPECT_EQ(Attr({{"type", "Car"}}).status, 404u);
  EXPECT_EQ(Attr({{"fromDate", "2000-01-01"}}).status, 404u);
}

TEST_F(QlTest, BadParametersAre400) {
  const std::vector<std::pair<std::string, std::string>> bad[] = {
      {{"fromDate", "yesterday"}}, {{"toDate", "2020-13-01"}},
      {{"lastN", "-1"}},           {{"limit", "ten"}},
      {{"offset", "1.5"}},         {{"aggrMethod", "median"}},
      {{"aggrPeriod", "day"}},     {{"aggrMethod", "sum"}, {"aggrPeriod", "week"}}};
  for (const auto& q : bad) {
    auto r = Attr(q);
    EXPECT_EQ(r.status, 400u) << q.front().first << "=" << q.front().second;
    EXPECT_NE(r.body.find(R"("error":"Bad Request")"), std::string::npos) << r.body;
  }
  auto r = Attr({{"aggrPeriod", "day"}});
  EXPECT_EQ(r.body, R"({"error":"Bad Request","description":)"
                    R"("aggrMethod is compulsory when using aggrPeriod."})");
}

TEST_F(QlTest, AmbiguousIdNeedsType) {
  auto r = Attr({}, "x", "Dup");
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.body.find("AmbiguousNGSIIdError"), std::string::npos);
  r = Attr({{"type", "B"}}, "x", "Dup");
  EXPECT_EQ(r.status, 200u);
  EXPECT_NE(r.body.find(R"("values":[2])"), std::string::npos) << r.body;
}

// lastN, limit and offset count what the lists of `attrs` and `id` select, as in
// QuantumLeap's SQL: here the last instant of pressure or name, not of the entity.
TEST_F(QlTest, WindowsCountWhatTheListsSelect) {
  auto r = Call(&GetEntity, {{"entityId", "Room0"}}, {{"attrs", "pressure,name"}, {"lastN", "1"}});
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.body, R"({"entityId":"Room0","entityType":"Room",)"
                    R"("index":["1970-01-29T00:00:00.000+00:00"],)"
                    R"("attributes":[{"attrName":"pressure","values":[1000]}]})");
  r = Call(&GetType, {{"entityType", "Room"}},
           {{"id", "Room1,Room0"}, {"attrs", "temperature"}, {"limit", "2"}});
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.body, R"({"entityType":"Room","entities":[)"
                    R"({"entityId":"Room0","index":["1970-01-01T00:00:00.000+00:00",)"
                    R"("1970-01-02T00:00:00.000+00:00"],)"
                    R"("attributes":[{"attrName":"temperature","values":[0,1]}]}]})");
}

// One id under two types is two entities to the endpoints that span types.
TEST_F(QlTest, OneIdUnderTwoTypesIsListedUnderEach) {
  auto r = Call(&GetAttr, {{"attrName", "x"}}, {});
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, R"({"attrName":"x","types":[)"
                    R"({"entityType":"A","entities":[{"entityId":"Dup",)"
                    R"("index":["1970-01-01T00:00:00.000+00:00"],"values":[1]}]},)"
                    R"({"entityType":"B","entities":[{"entityId":"Dup",)"
                    R"("index":["1970-01-01T00:00:00.000+00:00"],"values":[2]}]}]})");
  r = Call(&ListEntities, {}, {{"toDate", "1970-01-01T00:00:00Z"}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body,
            R"([{"entityId":"Dev1","entityType":"Dev","index":"1970-01-01T00:00:00.000+00:00"},)"
            R"({"entityId":"Dup","entityType":"A","index":"1970-01-01T00:00:00.000+00:00"},)"
            R"({"entityId":"Dup","entityType":"B","index":"1970-01-01T00:00:00.000+00:00"},)"
            R"({"entityId":"Room0","entityType":"Room","index":"1970-01-01T00:00:00.000+00:00"}])");
}

TEST_F(QlTest, TenancyHeadersScopeTheQuery) {
  auto in = [&](std::vector<std::pair<std::string, std::string>> headers) {
    return Call(&GetEntityAttr, {{"entityId", "Room1"}, {"attrName", "temperature"}}, {},
                std::move(headers))
        .status;
  };
  EXPECT_EQ(in({}), 200u);
  EXPECT_EQ(in({{"Fiware-ServicePath", "/b"}}), 200u);
  EXPECT_EQ(in({{"Fiware-ServicePath", "/#"}}), 200u);
  EXPECT_EQ(in({{"Fiware-ServicePath", "/a"}}), 404u);
  EXPECT_EQ(in({{"Fiware-ServicePath", "/"}}), 200u);  // QuantumLeap: a prefix of /b
  EXPECT_EQ(in({{"Fiware-ServicePath", "/a/#, /b"}}), 200u);
  EXPECT_EQ(in({{"Fiware-Service", "other"}}), 404u);
  EXPECT_EQ(in({{"Fiware-ServicePath", "no-slash"}}), 400u);
  EXPECT_EQ(in({{"Fiware-Service", "bad tenant!"}}), 400u);
}

TEST_F(QlTest, DeleteEntityRemovesItsHistoryInTheRange) {
  auto r = Call(&DeleteEntity, {{"entityId", "Room0"}},
                {{"fromDate", "1970-01-02T00:00:00Z"}, {"toDate", "1970-01-03T00:00:00Z"}});
  EXPECT_EQ(r.status, 204u);
  EXPECT_EQ(r.body, "");
  r = Attr({{"toDate", "1970-01-04T00:00:00Z"}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_NE(r.body.find(R"("values":[0,3])"), std::string::npos) << r.body;
  r = Attr({{"toDate", "1970-01-04T00:00:00Z"}}, "pressure");
  EXPECT_NE(r.body.find(R"("values":[1000])"), std::string::npos) << "day 2 went: " << r.body;
  EXPECT_EQ(Attr({}, "temperature", "Room1").status, 200u) << "another entity stays";

  r = Call(&DeleteEntity, {{"entityId", "Room0"}},
           {{"fromDate", "1970-01-02T00:00:00Z"}, {"toDate", "1970-01-03T00:00:00Z"}});
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(r.body,
            R"({"error":"Not Found","description":"No records were found for such query."})");
  EXPECT_EQ(Call(&DeleteEntity, {{"entityId", "Room0"}}, {}).status, 204u);
  EXPECT_EQ(Attr({}).status, 404u) << "all of it";
}

TEST_F(QlTest, DeleteEntityNeedsTypeWhenTheIdIsAmbiguous) {
  auto r = Call(&DeleteEntity, {{"entityId", "Dup"}}, {});
  EXPECT_EQ(r.status, 409u);
  EXPECT_NE(r.body.find(R"("error":"AmbiguousNGSIIdError")"), std::string::npos) << r.body;
  EXPECT_EQ(Attr({{"type", "A"}}, "x", "Dup").status, 200u) << "nothing was deleted";
  EXPECT_EQ(Call(&DeleteEntity, {{"entityId", "Dup"}}, {{"type", "A"}}).status, 204u);
  EXPECT_EQ(Attr({{"type", "A"}}, "x", "Dup").status, 404u);
  r = Attr({}, "x", "Dup");
  EXPECT_EQ(r.status, 200u) << "B is the one left, no longer ambiguous";
  EXPECT_NE(r.body.find(R"("entityType":"B")"), std::string::npos) << r.body;
}

TEST_F(QlTest, DeleteTypeRemovesTheTypesHistory) {
  auto r = Call(&DeleteType, {{"entityType", "Room"}}, {{"toDate", "1970-01-10T00:00:00Z"}});
  EXPECT_EQ(r.status, 204u);
  EXPECT_EQ(Attr({}, "temperature", "Room1").status, 404u) << "day 3 went";
  r = Attr({{"aggrMethod", "count"}});
  EXPECT_NE(r.body.find(R"("values":[20])"), std::string::npos) << "days 10-29 stay: " << r.body;
  EXPECT_EQ(Attr({}, "t", "Dev1").status, 200u) << "another type stays";
  EXPECT_EQ(Call(&DeleteType, {{"entityType", "Room"}}, {{"dropTable", "yes"}}).status, 400u);
  EXPECT_EQ(Call(&DeleteType, {{"entityType", "Room"}},
                 {{"dropTable", "true"}, {"toDate", "1970-01-01T00:00:00Z"}})
                .status,
            204u);
  EXPECT_EQ(Attr({}).status, 404u) << "dropTable takes every date";
  EXPECT_EQ(Call(&DeleteType, {{"entityType", "Room"}}, {}).status, 404u);
}

TEST_F(QlTest, DeletionIsNarrowedToTheWriteGrants) {
  identity_.tenants = {{"", "/", false}, {"", "/b", true}};  // reads all, writes /b
  EXPECT_EQ(Call(&DeleteEntity, {{"entityId", "Room0"}}, {}, {{"Fiware-ServicePath", "/a"}}).status,
            403u);
  EXPECT_EQ(Call(&DeleteType, {{"entityType", "Room"}}, {}).status, 204u);
  EXPECT_EQ(Attr({}, "temperature", "Room1").status, 404u) << "Room1 is under /b";
  EXPECT_EQ(Attr({}).status, 200u) << "Room0 is under /a";
}

TEST(QlParamsTest, LimitIsCappedAndListsSplit) {
  http::BeastRequest raw{http::Verb::get, "/ql/v2", 11};
  http::RequestContext ctx{raw, "/ql/v2", {{"limit", "50000"}, {"lastN", "3"}}, {}};
  auto r = ParseRequest(ctx);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->query.limit, kMaxLimit);
  EXPECT_EQ(r->query.last_n, 3u);
  EXPECT_FALSE(r->aggr_method.has_value());
  EXPECT_EQ(SplitList(" a, ,b,"), (std::vector<std::string>{"a", "b"}));
}

TEST(QlErrorTest, InternalErrorsAre500) {
  auto r = ErrorResponse(Error::Internal("sqlite: disk I/O error"));
  EXPECT_EQ(r.status, 500u);
  EXPECT_EQ(r.body, R"({"error":"Internal Server Error","description":"sqlite: disk I/O error"})");
}

}  // namespace
}  // namespace zc::api::ql
