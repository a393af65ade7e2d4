#include "identity/directory.h"

#include <gtest/gtest.h>

#include <map>

#include "identity/codec.h"
#include "identity/credentials.h"
#include "identity/roles.h"

namespace zc::identity {
namespace {

// Keeps documents in a map, as the SQLite store keeps them in a table.
class MemoryStore : public IdentityStore {
 public:
  Result<std::vector<StoredDocument>> LoadAll() override {
    std::vector<StoredDocument> out;
    for (const auto& [k, json] : docs) out.push_back({k.first, k.second, json});
    return out;
  }
  Status Put(const StoredDocument& d) override {
    docs[{d.kind, d.key}] = d.json;
    return Ok();
  }
  Status Delete(const std::string& kind, const std::string& key) override {
    docs.erase({kind, key});
    return Ok();
  }
  std::map<std::pair<std::string, std::string>, std::string> docs;
};

constexpr TimeMs kNow = 1'800'000'000'000;
constexpr const char* kPassword = "Correct-Horse-9";

DirectoryOptions FastOptions() {
  DirectoryOptions o;
  o.password_limits = {.ops = 1, .memory = 8192};
  o.max_login_failures = 3;
  o.lockout = std::chrono::seconds(10);
  return o;
}

class DirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitCrypto();
    ASSERT_TRUE(dir.CreateDepartment({"440608", "高明区", "", "district"}));
    ASSERT_TRUE(dir.CreateDepartment({"440608-cg", "城管局", "440608", "department"}));
    User u{.login = "li.wei",
           .display_name = "李伟",
           .department = "440608-cg",
           .roles = {"operator", "viewer"},
           .tenants = {{"gaoming", "/", true}}};
    ASSERT_TRUE(dir.CreateUser(u, kPassword, kNow));
  }
  MemoryStore store;
  Directory dir{store, FastOptions()};
};

TEST_F(DirectoryTest, PasswordGrantIssuesATokenThatAuthenticates) {
  auto issued = dir.PasswordGrant("li.wei", kPassword, {}, kNow);
  ASSERT_TRUE(issued) << issued.error().message;
  EXPECT_TRUE(IsWellFormedToken(issued->token));
  auto p = dir.Authenticate(issued->token, kNow + 1000);
  ASSERT_TRUE(p);
  EXPECT_EQ((*p)->subject, "li.wei");
  EXPECT_EQ((*p)->department, "440608-cg");
  EXPECT_TRUE(std::binary_search((*p)->permissions.begin(), (*p)->permissions.end(),
                                 std::string(perm::kContextRead)));
  EXPECT_FALSE(std::binary_search((*p)->permissions.begin(), (*p)->permissions.end(),
                                  std::string(perm::kIdentityWrite)));
  EXPECT_FALSE(dir.Authenticate(issued->token + "x", kNow));
}

TEST_F(DirectoryTest, TokensExpireAndCanBeRevoked) {
  TokenRequest request;
  request.ttl = std::chrono::seconds(60);
  auto issued = dir.PasswordGrant("li.wei", kPassword, request, kNow);
  ASSERT_TRUE(issued);
  EXPECT_TRUE(dir.Authenticate(issued->token, kNow + 59'000));
  EXPECT_FALSE(dir.Authenticate(issued->token, kNow + 60'000));
  auto second = dir.PasswordGrant("li.wei", kPassword, {}, kNow);
  ASSERT_TRUE(dir.RevokeToken(second->record.id));
  EXPECT_FALSE(dir.Authenticate(second->token, kNow));
  EXPECT_EQ(dir.RevokeToken("nope").error().code, ErrorCode::kNotFound);
  auto purged = dir.PurgeTokens(kNow + 61'000);
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 2u);
}

TEST_F(DirectoryTest, WrongPasswordsLockTheAccountWithGrowingBackoff) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(dir.PasswordGrant("li.wei", "Wrong-Password-1", {}, kNow).error().code,
              ErrorCode::kUnauthorized);
  }
  // Locked: even the right password is refused until the lockout ends.
  EXPECT_EQ(dir.PasswordGrant("li.wei", kPassword, {}, kNow + 1).error().code,
            ErrorCode::kForbidden);
  EXPECT_TRUE(dir.PasswordGrant("li.wei", kPassword, {}, kNow + 10'001));
  // After a success the counters reset; a second lockout lasts 10 s again.
  for (int i = 0; i < 3; ++i) {
    (void)dir.PasswordGrant("li.wei", "Wrong-Password-1", {}, kNow + 20'000);
  }
  EXPECT_EQ(dir.GetUser("li.wei")->locked_until, kNow + 30'000);
}

TEST_F(DirectoryTest, TokenScopeNarrowsRolesAndTenants) {
  TokenRequest request;
  request.roles = {"viewer"};
  request.tenants = {{"gaoming", "/water", false}};
  auto issued = dir.PasswordGrant("li.wei", kPassword, request, kNow);
  ASSERT_TRUE(issued) << issued.error().message;
  auto p = *dir.Authenticate(issued->token, kNow);
  EXPECT_EQ(p->roles, std::vector<std::string>{"viewer"});
  ASSERT_EQ(p->tenants.size(), 1u);
  EXPECT_EQ(p->tenants[0].path, "/water");
  request.tenants = {{"other", "/", false}};
  EXPECT_EQ(dir.PasswordGrant("li.wei", kPassword, request, kNow).error().code,
            ErrorCode::kBadRequest);
  request.tenants = {};
  request.roles = {"platform_admin"};
  EXPECT_EQ(dir.PasswordGrant("li.wei", kPassword, request, kNow).error().code,
            ErrorCode::kBadRequest);
}

TEST_F(DirectoryTest, DisablingAUserInvalidatesItsTokensAtOnce) {
  auto issued = dir.PasswordGrant("li.wei", kPassword, {}, kNow);
  ASSERT_TRUE(dir.UpdateUser("li.wei", [](User& u) {
    u.status = kStatusDisabled;
    return Ok();
  }));
  EXPECT_FALSE(dir.Authenticate(issued->token, kNow));
  EXPECT_EQ(dir.PasswordGrant("li.wei", kPassword, {}, kNow).error().code, ErrorCode::kForbidden);
}

TEST_F(DirectoryTest, ServiceAccountsUseClientCredentialsAndApiKeys) {
  ServiceAccount a{.client_id = "gauge-17",
                   .name = "水位计17",
                   .kind = "device",
                   .roles = {"device"},
                   .tenants = {{"gaoming", "/water", true}}};
  auto created = dir.CreateServiceAccount(a, kNow);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_FALSE(dir.ClientCredentialsGrant("gauge-17", "wrong", {}, kNow));
  auto token = dir.ClientCredentialsGrant("gauge-17", created->secret, {}, kNow);
  ASSERT_TRUE(token);
  EXPECT_EQ((*dir.Authenticate(token->token, kNow))->kind, "device");
  TokenRequest key;
  key.api_key = true;
  auto api_key = dir.IssueToken("gauge-17", key, kNow);
  ASSERT_TRUE(api_key);
  EXPECT_EQ(api_key->record.expires, 0);
  EXPECT_TRUE(dir.Authenticate(api_key->token, kNow + 100LL * 86400 * 1000));
  auto rotated = dir.RotateSecret("gauge-17");
  ASSERT_TRUE(rotated);
  EXPECT_FALSE(dir.ClientCredentialsGrant("gauge-17", created->secret, {}, kNow));
  EXPECT_TRUE(dir.ClientCredentialsGrant("gauge-17", rotated->secret, {}, kNow));
  ASSERT_TRUE(dir.DeleteServiceAccount("gauge-17"));
  EXPECT_FALSE(dir.Authenticate(api_key->token, kNow));
}

TEST_F(DirectoryTest, ValidationRefusesBadInputAndChangesNothing) {
  EXPECT_EQ(dir.CreateUser({.login = "bad login"}, kPassword, kNow).error().code,
            ErrorCode::kBadRequest);
  EXPECT_EQ(dir.CreateUser({.login = "x", .roles = {"emperor"}}, kPassword, kNow).error().code,
            ErrorCode::kBadRequest);
  EXPECT_EQ(dir.CreateUser({.login = "y", .department = "nowhere"}, kPassword, kNow).error().code,
            ErrorCode::kBadRequest);
  EXPECT_EQ(dir.CreateUser({.login = "z"}, "short", kNow).error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(dir.CreateUser({.login = "li.wei"}, kPassword, kNow).error().code,
            ErrorCode::kAlreadyExists);
  EXPECT_EQ(dir.ListUsers().size(), 1u);
  EXPECT_EQ(dir.CreateDepartment({"a", "A", "missing", "section"}).error().code,
            ErrorCode::kBadRequest);
  EXPECT_EQ(dir.UpdateDepartment("440608",
                                 [](Department& d) {
                                   d.parent = "440608-cg";
                                   return Ok();
                                 })
                .error()
                .code,
            ErrorCode::kBadRequest);
  EXPECT_EQ(dir.DeleteDepartment("440608-cg").error().code, ErrorCode::kUnprocessable);
}

TEST_F(DirectoryTest, EverythingSurvivesAReload) {
  auto issued = dir.PasswordGrant("li.wei", kPassword, {}, kNow);
  Directory reloaded(store, FastOptions());
  ASSERT_TRUE(reloaded.Load());
  EXPECT_EQ(reloaded.ListDepartments().size(), 2u);
  EXPECT_EQ(reloaded.GetUser("li.wei")->display_name, "李伟");
  auto again = reloaded.Authenticate(issued->token, kNow);
  EXPECT_TRUE(again);
  EXPECT_TRUE(reloaded.PasswordGrant("li.wei", kPassword, {}, kNow));
}

TEST(GrantSpecTest, ParsesTenantPathAndMode) {
  EXPECT_EQ(*ParseGrantSpec("gaoming:/water:rw"), (TenantGrant{"gaoming", "/water", true}));
  EXPECT_EQ(*ParseGrantSpec(":/:r"), (TenantGrant{"", "/", false}));
  EXPECT_EQ(*ParseGrantSpec("*:/a/b:r"), (TenantGrant{"*", "/a/b", false}));
  for (const char* bad : {"gaoming", "gaoming:/water", "gaoming:/water:w", "gaoming:water:r", ""}) {
    EXPECT_EQ(ParseGrantSpec(bad).error().code, ErrorCode::kBadRequest) << bad;
  }
}

TEST(GrantCoversTest, PathPrefixesAreSegmentWise) {
  EXPECT_TRUE(GrantCovers({"t", "/", true}, {"t", "/a/b", true}));
  EXPECT_TRUE(GrantCovers({"t", "/a", false}, {"t", "/a/b", false}));
  EXPECT_FALSE(GrantCovers({"t", "/a", false}, {"t", "/ab", false}));
  EXPECT_FALSE(GrantCovers({"t", "/a", false}, {"t", "/a", true}));
  EXPECT_FALSE(GrantCovers({"t", "/", true}, {"u", "/", false}));
  EXPECT_TRUE(GrantCovers({"*", "/", true}, {"u", "/x", true}));
}

}  // namespace
}  // namespace zc::identity
