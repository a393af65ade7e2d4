// NetworkList: a set of IP networks in CIDR notation ("10.20.0.0/16", "192.168.1.7",
// "fd00::/8"), for restricting where outbound requests may go. An address without a
// prefix length is one host. IPv4 addresses written as IPv6 (::ffff:10.0.0.1) count as
// IPv4.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace zc::http {

class NetworkList {
 public:
  // BadRequest naming the entry that is not an address or a network.
  static Result<NetworkList> Parse(const std::vector<std::string>& entries);

  bool Contains(const boost::asio::ip::address& address) const;
  // The host of `url` when it is an IP address outside a non-empty list; nullopt for a
  // host name (known only once resolved), an address inside, or an empty list.
  std::optional<std::string> LiteralHostOutside(std::string_view url) const;
  bool empty() const { return networks_.empty(); }

 private:
  struct Network {
    std::array<unsigned char, 16> bytes{};  // IPv4 in the first 4
    bool v4 = false;
    unsigned prefix = 0;  // bits
  };
  std::vector<Network> networks_;
};

}  // namespace zc::http
