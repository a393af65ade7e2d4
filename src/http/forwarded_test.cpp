// ForwardedClient: which X-Forwarded-For address is believed, and when none is.
#include "http/forwarded.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace zc::http {
namespace {

NetworkList Trusted(const std::vector<std::string>& entries) {
  auto list = NetworkList::Parse(entries);
  EXPECT_TRUE(list) << list.error().message;
  return list.value_or(NetworkList{});
}

// The forwarded client of a request carrying these X-Forwarded-For headers, or "" for none.
std::string Client(std::initializer_list<const char*> headers, const NetworkList& trusted) {
  BeastRequest request{beast_http::verb::get, "/v2/entities", 11};
  for (const char* value : headers) request.insert("X-Forwarded-For", value);
  auto client = ForwardedClient(request, trusted);
  return client ? client->to_string() : "";
}

TEST(ForwardedClientTest, TheNearestAddressPastTheTrustedProxies) {
  const NetworkList proxies = Trusted({"10.0.0.0/24", "fd00::/8"});
  EXPECT_EQ(Client({"203.0.113.7"}, proxies), "203.0.113.7");
  // A client that wrote its own header: each proxy appended what it saw, read from the right.
  EXPECT_EQ(Client({"198.51.100.1, 203.0.113.7"}, proxies), "203.0.113.7");
  EXPECT_EQ(Client({"198.51.100.1, 203.0.113.7, 10.0.0.9"}, proxies), "203.0.113.7");
  EXPECT_EQ(Client({"198.51.100.1", "203.0.113.7,10.0.0.9"}, proxies), "203.0.113.7")
      << "several headers are one list, in order";
  EXPECT_EQ(Client({"10.0.0.8, 10.0.0.9"}, proxies), "10.0.0.8") << "all trusted: the leftmost";
  EXPECT_EQ(Client({"2001:db8::7, fd00::1"}, proxies), "2001:db8::7");
  EXPECT_EQ(Client({" 203.0.113.7 ,\t10.0.0.9 "}, proxies), "203.0.113.7");
}

TEST(ForwardedClientTest, AddressesWithPortsAsSomeProxiesWriteThem) {
  const NetworkList proxies = Trusted({"10.0.0.0/24"});
  EXPECT_EQ(Client({"203.0.113.7:51234"}, proxies), "203.0.113.7");
  EXPECT_EQ(Client({"[2001:db8::7]:51234"}, proxies), "2001:db8::7");
  EXPECT_EQ(Client({"[2001:db8::7]"}, proxies), "2001:db8::7");
}

TEST(ForwardedClientTest, NoneWithoutAHeaderOrWhereTheNearestEntryIsNotAnAddress) {
  const NetworkList proxies = Trusted({"10.0.0.0/24"});
  EXPECT_EQ(Client({}, proxies), "");
  EXPECT_EQ(Client({""}, proxies), "");
  EXPECT_EQ(Client({"unknown"}, proxies), "");
  EXPECT_EQ(Client({"203.0.113.7, garbage"}, proxies), "");
  // Garbage behind a trusted proxy's entry: that proxy is the last address we can believe.
  EXPECT_EQ(Client({"garbage, 10.0.0.9"}, proxies), "10.0.0.9");
  // Garbage that an untrusted hop is in front of is never read.
  EXPECT_EQ(Client({"garbage, 203.0.113.7"}, proxies), "203.0.113.7");
}

TEST(ForwardedClientTest, OnlyTheNearest32EntriesAreRead) {
  const NetworkList proxies = Trusted({"10.0.0.0/24"});
  std::string many = "203.0.113.7";
  for (int i = 0; i < 40; ++i) many += ", 10.0.0." + std::to_string(i);
  EXPECT_EQ(Client({many.c_str()}, proxies), "10.0.0.8") << "the leftmost of the nearest 32";
}

}  // namespace
}  // namespace zc::http
