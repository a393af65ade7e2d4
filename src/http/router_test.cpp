#include "http/router.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <stdexcept>

#include "http/target_impl.h"

namespace zc::http {
namespace {

Handler Noop() {
  return [](RequestContext&, Respond respond) { respond(Response::Empty(204)); };
}

Route MakeRoute(Verb method, std::string pattern) {
  return Route{method, std::move(pattern), "", Noop()};
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() {
    router_.Add(MakeRoute(Verb::get, "/v2/entities"));
    router_.Add(MakeRoute(Verb::post, "/v2/entities"));
    router_.Add(MakeRoute(Verb::get, "/v2/entities/{id}"));
    router_.Add(MakeRoute(Verb::delete_, "/v2/entities/{id}"));
    router_.Add(MakeRoute(Verb::get, "/v2/entities/{id}/attrs/{attr}"));
    router_.Add(MakeRoute(Verb::get, "/v2/entities/count"));
    router_.Add(MakeRoute(Verb::get, "/"));
  }
  Router router_;
};

TEST_F(RouterTest, MatchesLiteralRoutes) {
  auto match = router_.Find(Verb::get, "/v2/entities");
  ASSERT_TRUE(match);
  EXPECT_EQ(match->route->pattern, "/v2/entities");
  EXPECT_TRUE(match->params.empty());
  EXPECT_EQ(router_.Find(Verb::post, "/v2/entities")->route->method, Verb::post);
  EXPECT_EQ(router_.Find(Verb::get, "/")->route->pattern, "/");
}

TEST_F(RouterTest, CapturesParametersInOrder) {
  auto match = router_.Find(Verb::get, "/v2/entities/Room1/attrs/temperature");
  ASSERT_TRUE(match);
  EXPECT_EQ(match->route->pattern, "/v2/entities/{id}/attrs/{attr}");
  ASSERT_EQ(match->params.size(), 2u);
  EXPECT_EQ(match->params[0], (std::pair<std::string, std::string>{"id", "Room1"}));
  EXPECT_EQ(match->params[1], (std::pair<std::string, std::string>{"attr", "temperature"}));
}

TEST_F(RouterTest, LiteralBeatsParameter) {
  EXPECT_EQ(router_.Find(Verb::get, "/v2/entities/count")->route->pattern, "/v2/entities/count");
  EXPECT_EQ(router_.Find(Verb::get, "/v2/entities/counter")->route->pattern, "/v2/entities/{id}");
}

TEST_F(RouterTest, BacktracksFromLiteralToParameter) {
  // "count" is a literal child, but only the {id} branch continues with /attrs/{attr}.
  auto match = router_.Find(Verb::get, "/v2/entities/count/attrs/x");
  ASSERT_TRUE(match);
  EXPECT_EQ(match->route->pattern, "/v2/entities/{id}/attrs/{attr}");
  EXPECT_EQ(match->params[0].second, "count");
  // The method decides too: DELETE exists only on the parameter route.
  EXPECT_EQ(router_.Find(Verb::delete_, "/v2/entities/count")->route->pattern, "/v2/entities/{id}");
}

TEST_F(RouterTest, UnknownPathIsNotFound) {
  for (std::string_view path :
       {"/v3", "/v2/entities/a/b", "/v2/entities/", "/v2/entities//attrs/x"}) {
    auto match = router_.Find(Verb::get, path);
    ASSERT_FALSE(match) << path;
    EXPECT_EQ(match.error().code, ErrorCode::kNotFound) << path;
  }
}

TEST_F(RouterTest, KnownPathWithOtherMethodIsMethodNotAllowed) {
  auto match = router_.Find(Verb::put, "/v2/entities/Room1");
  ASSERT_FALSE(match);
  EXPECT_EQ(match.error().code, ErrorCode::kMethodNotAllowed);
  EXPECT_NE(match.error().message.find("DELETE, GET, HEAD"), std::string::npos)
      << match.error().message;
  EXPECT_EQ(router_.AllowedMethods("/v2/entities/Room1"),
            (std::vector<Verb>{Verb::delete_, Verb::get, Verb::head}));
  // Methods of every matching pattern count: "count" also matches {id}.
  EXPECT_EQ(router_.AllowedMethods("/v2/entities/count"),
            (std::vector<Verb>{Verb::delete_, Verb::get, Verb::head}));
  EXPECT_TRUE(router_.AllowedMethods("/nowhere").empty());
}

TEST_F(RouterTest, HeadFindsTheGetRouteAndOnlyWhereThereIsOne) {
  auto head = router_.Find(Verb::head, "/v2/entities/Room1");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->route->method, Verb::get);
  EXPECT_EQ(head->route->pattern, "/v2/entities/{id}");
  router_.Add(MakeRoute(Verb::post, "/v2/op/update"));
  auto none = router_.Find(Verb::head, "/v2/op/update");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kMethodNotAllowed);
  EXPECT_EQ(router_.AllowedMethods("/v2/op/update"), (std::vector<Verb>{Verb::post}));
  EXPECT_THROW(router_.Add(MakeRoute(Verb::head, "/v2/entities")), std::logic_error);
}

TEST_F(RouterTest, DuplicateRouteThrows) {
  EXPECT_THROW(router_.Add(MakeRoute(Verb::get, "/v2/entities")), std::logic_error);
  // Same shape with a different parameter name is still a duplicate.
  EXPECT_THROW(router_.Add(MakeRoute(Verb::get, "/v2/entities/{entityId}")), std::logic_error);
  EXPECT_NO_THROW(router_.Add(MakeRoute(Verb::patch, "/v2/entities/{entityId}")));
  EXPECT_EQ(router_.Find(Verb::patch, "/v2/entities/E")->params[0].first, "entityId");
  EXPECT_THROW(router_.Add(MakeRoute(Verb::get, "no-slash")), std::logic_error);
  EXPECT_THROW(router_.Add(Route{Verb::get, "/nohandler", "", nullptr}), std::logic_error);
}

TEST_F(RouterTest, DefaultErrorFormatIsJson) {
  Response response = router_.RenderError("/x", Error::NotFound("no such thing"));
  EXPECT_EQ(response.status, 404u);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(boost::json::parse(response.body),
            boost::json::parse(R"({"error":"NotFound","description":"no such thing"})"));
  Response too_large = router_.RenderError("/x", Error::PayloadTooLarge("big"));
  EXPECT_EQ(too_large.status, 413u);
  EXPECT_EQ(boost::json::parse(too_large.body).at("error"), "RequestEntityTooLarge");
}

TEST_F(RouterTest, ErrorFormatterOfLongestPrefixWins) {
  router_.SetErrorFormatter(
      "/v2", [](const Error&, const RequestContext*) { return Response::Text(400, "v2"); });
  router_.SetErrorFormatter("/v2/entities", [](const Error&, const RequestContext*) {
    return Response::Text(400, "entities");
  });
  router_.SetErrorFormatter(
      "/", [](const Error&, const RequestContext*) { return Response::Text(400, "root"); });
  EXPECT_EQ(router_.RenderError("/v2/entities/x", Error::BadRequest("")).body, "entities");
  EXPECT_EQ(router_.RenderError("/v2/types", Error::BadRequest("")).body, "v2");
  EXPECT_EQ(router_.RenderError("/v2", Error::BadRequest("")).body, "v2");
  // Prefixes match whole segments: /v2x is not under /v2.
  EXPECT_EQ(router_.RenderError("/v2x", Error::BadRequest("")).body, "root");
}

TEST(StatusFor, MapsEveryErrorCode) {
  EXPECT_EQ(StatusFor(ErrorCode::kBadRequest), 400u);
  EXPECT_EQ(StatusFor(ErrorCode::kNotFound), 404u);
  EXPECT_EQ(StatusFor(ErrorCode::kAlreadyExists), 422u);
  EXPECT_EQ(StatusFor(ErrorCode::kTooManyResults), 409u);
  EXPECT_EQ(StatusFor(ErrorCode::kUnprocessable), 422u);
  EXPECT_EQ(StatusFor(ErrorCode::kMethodNotAllowed), 405u);
  EXPECT_EQ(StatusFor(ErrorCode::kPayloadTooLarge), 413u);
  EXPECT_EQ(StatusFor(ErrorCode::kUnsupportedMedia), 415u);
  EXPECT_EQ(StatusFor(ErrorCode::kLengthRequired), 411u);
  EXPECT_EQ(StatusFor(ErrorCode::kNotAcceptable), 406u);
  EXPECT_EQ(StatusFor(ErrorCode::kUnauthorized), 401u);
  EXPECT_EQ(StatusFor(ErrorCode::kForbidden), 403u);
  EXPECT_EQ(StatusFor(ErrorCode::kTooManyRequests), 429u);
  EXPECT_EQ(StatusFor(ErrorCode::kUnavailable), 503u);
  EXPECT_EQ(StatusFor(ErrorCode::kInternal), 500u);
}

TEST(DecodeTarget, DecodesPathAndQuery) {
  auto decoded = DecodeTarget("/v2/entities/Room%201?q=temperature>20&id=a%2Cb&flag&&x=");
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->path, "/v2/entities/Room 1");
  using Pair = std::pair<std::string, std::string>;
  EXPECT_EQ(decoded->query,
            (std::vector<Pair>{{"q", "temperature>20"}, {"id", "a,b"}, {"flag", ""}, {"x", ""}}));
}

// As in HTML forms and Orion: '+' in the query is a space, %2B a plus; the path keeps '+'.
TEST(DecodeTarget, PlusIsASpaceInTheQueryOnly) {
  auto decoded = DecodeTarget("/v2/entities/a+b?q=name=='a+b'&t=12:00%2B08:00&a+b=c&n=1+%41");
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->path, "/v2/entities/a+b");
  using Pair = std::pair<std::string, std::string>;
  EXPECT_EQ(
      decoded->query,
      (std::vector<Pair>{{"q", "name=='a b'"}, {"t", "12:00+08:00"}, {"a b", "c"}, {"n", "1 A"}}));
}

TEST(DecodeTarget, RejectsMalformedEscapesAndRelativeTargets) {
  EXPECT_EQ(DecodeTarget("/a%zz").error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(DecodeTarget("/a?x=%4").error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(DecodeTarget("a").error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(DecodeTarget("*").error().code, ErrorCode::kBadRequest);
}

}  // namespace
}  // namespace zc::http
