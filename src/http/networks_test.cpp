// NetworkList: parsing CIDR entries and matching IPv4, IPv6 and IPv4-mapped addresses.
#include "http/networks.h"

#include <gtest/gtest.h>

namespace zc::http {
namespace {

namespace ip = boost::asio::ip;

NetworkList Parse(const std::vector<std::string>& entries) {
  auto list = NetworkList::Parse(entries);
  EXPECT_TRUE(list.has_value()) << (list ? "" : list.error().message);
  return list.value_or(NetworkList{});
}

TEST(NetworkList, MatchesAddressesInsideItsNetworks) {
  const NetworkList list = Parse({"10.20.0.0/16", "192.168.1.7", "fd00::/8", "172.16.0.0/12"});
  EXPECT_TRUE(list.Contains(ip::make_address("10.20.3.4")));
  EXPECT_FALSE(list.Contains(ip::make_address("10.21.0.1")));
  EXPECT_TRUE(list.Contains(ip::make_address("192.168.1.7")));
  EXPECT_FALSE(list.Contains(ip::make_address("192.168.1.8")));
  EXPECT_TRUE(list.Contains(ip::make_address("fd12:3456::1")));
  EXPECT_FALSE(list.Contains(ip::make_address("fe80::1")));
  EXPECT_TRUE(list.Contains(ip::make_address("172.31.255.255")));  // a prefix of 12 bits
  EXPECT_FALSE(list.Contains(ip::make_address("172.32.0.0")));
  EXPECT_TRUE(list.Contains(ip::make_address("::ffff:10.20.9.9")));  // IPv4 written as IPv6
  EXPECT_FALSE(list.Contains(ip::make_address("169.254.169.254")));
}

TEST(NetworkList, ZeroPrefixesCoverTheirWholeFamily) {
  const NetworkList list = Parse({"0.0.0.0/0"});
  EXPECT_TRUE(list.Contains(ip::make_address("8.8.8.8")));
  EXPECT_FALSE(list.Contains(ip::make_address("::1")));
  EXPECT_FALSE(list.empty());
  EXPECT_TRUE(Parse({}).empty());
}

TEST(NetworkList, RefusesWhatIsNotANetwork) {
  for (const char* bad : {"10.0.0.0/33", "fd00::/129", "10.0.0.0/", "10.0.0.0/8x", "localhost",
                          "10.0.0", "", "/8", "10.0.0.0/-1"}) {
    auto list = NetworkList::Parse({bad});
    ASSERT_FALSE(list.has_value()) << bad;
    EXPECT_NE(list.error().message.find("is not an IP address or a network"), std::string::npos);
  }
}

TEST(NetworkList, TellsAUrlWhoseHostIsAnAddressOutside) {
  const NetworkList list = Parse({"10.0.0.0/8", "fd00::/8"});
  EXPECT_EQ(list.LiteralHostOutside("http://169.254.169.254/latest/meta-data"), "169.254.169.254");
  EXPECT_EQ(list.LiteralHostOutside("https://[fe80::1]:8443/n"), "fe80::1");
  EXPECT_EQ(list.LiteralHostOutside("http://10.1.2.3:8080/notify"), std::nullopt);
  EXPECT_EQ(list.LiteralHostOutside("http://[fd00::7]/notify"), std::nullopt);
  EXPECT_EQ(list.LiteralHostOutside("http://receiver.example/notify"),
            std::nullopt);                                                    // resolved later
  EXPECT_EQ(list.LiteralHostOutside("http://${host}/notify"), std::nullopt);  // a template
  EXPECT_EQ(Parse({}).LiteralHostOutside("http://169.254.169.254/"), std::nullopt);
}

}  // namespace
}  // namespace zc::http
