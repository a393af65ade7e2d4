#include "api/ngsi/common.h"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>

namespace zc::api::ngsi {
namespace {

// A read on a pool thread that throws (a bug) is answered 500 in NGSI's format, and one
// that does not is left to answer as it does.
TEST(RunGuardedTest, AnExceptionIsAnswered500InsteadOfLeavingThePoolThread) {
  const http::BeastRequest raw{http::Verb::get, "/v2/entities", 11};
  const http::RequestContext ctx{.raw = raw, .path = "/v2/entities"};
  std::optional<http::Response> answer;
  const http::Respond respond = [&answer](http::Response r) { answer = std::move(r); };
  EXPECT_NO_THROW(RunGuarded(ctx, respond, [] { throw std::out_of_range("a bug"); }));
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 500u);
  EXPECT_NE(answer->body.find(R"("error":"InternalServerError")"), std::string::npos)
      << answer->body;

  answer.reset();
  RunGuarded(ctx, respond, [&] { respond(http::Response::Empty(204)); });
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 204u);
}

}  // namespace
}  // namespace zc::api::ngsi
