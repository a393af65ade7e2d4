// See networks.h.
#include "http/networks.h"

#include <fmt/format.h>

#include <boost/url/parse.hpp>

#include <charconv>
#include <string_view>

namespace zc::http {
namespace {

namespace ip = boost::asio::ip;

// IPv4-mapped IPv6 addresses become IPv4.
ip::address Plain(const ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, address.to_v6());
  }
  return address;
}

std::array<unsigned char, 16> BytesOf(const ip::address& address) {
  std::array<unsigned char, 16> bytes{};
  if (address.is_v4()) {
    const auto v4 = address.to_v4().to_bytes();
    std::copy(v4.begin(), v4.end(), bytes.begin());
  } else {
    bytes = address.to_v6().to_bytes();
  }
  return bytes;
}

bool SamePrefix(const std::array<unsigned char, 16>& a, const std::array<unsigned char, 16>& b,
                unsigned bits) {
  size_t i = 0;
  for (; bits >= 8; bits -= 8, ++i) {
    if (a[i] != b[i]) return false;
  }
  const auto mask = static_cast<unsigned char>(0xFF00U >> bits);
  return bits == 0 || (a[i] & mask) == (b[i] & mask);
}

}  // namespace

Result<NetworkList> NetworkList::Parse(const std::vector<std::string>& entries) {
  NetworkList list;
  for (const std::string& entry : entries) {
    const std::string_view text = entry;
    const size_t slash = text.find('/');
    boost::system::error_code ec;
    const ip::address address = Plain(ip::make_address(text.substr(0, slash), ec));
    const unsigned width = address.is_v4() ? 32 : 128;
    unsigned prefix = width;
    if (!ec && slash != std::string_view::npos) {
      const std::string_view digits = text.substr(slash + 1);
      const auto [end, parse_error] =
          std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
      if (digits.empty() || parse_error != std::errc{} || end != digits.data() + digits.size() ||
          prefix > width) {
        ec = boost::asio::error::invalid_argument;
      }
    }
    if (ec) {
      return Fail(Error::BadRequest(fmt::format(
          "'{}' is not an IP address or a network such as 10.20.0.0/16 or fd00::/8", entry)));
    }
    list.networks_.push_back({BytesOf(address), address.is_v4(), prefix});
  }
  return list;
}

bool NetworkList::Contains(const ip::address& address) const {
  const ip::address plain = Plain(address);
  const auto bytes = BytesOf(plain);
  for (const Network& network : networks_) {
    if (network.v4 == plain.is_v4() && SamePrefix(network.bytes, bytes, network.prefix)) {
      return true;
    }
  }
  return false;
}

std::optional<std::string> NetworkList::LiteralHostOutside(std::string_view url) const {
  if (networks_.empty()) return std::nullopt;
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return std::nullopt;  // the client refuses it when sending
  boost::system::error_code ec;
  const auto type = parsed->host_type();
  if (type != boost::urls::host_type::ipv4 && type != boost::urls::host_type::ipv6) {
    return std::nullopt;
  }
  const ip::address address = ip::make_address(parsed->host_address(), ec);  // without [ ]
  if (ec || Contains(address)) return std::nullopt;
  return address.to_string();
}

}  // namespace zc::http
