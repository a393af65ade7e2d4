// ForwardedClient (see forwarded.h).
#include "http/forwarded.h"

#include <string>
#include <vector>

#include "common/ascii.h"

namespace zc::http {
namespace {

namespace ip = boost::asio::ip;

// The addresses of every X-Forwarded-For header, in order: at most kMaxHops, the nearest.
constexpr size_t kMaxHops = 32;

std::vector<std::string_view> Hops(const BeastRequest& request) {
  std::vector<std::string_view> hops;
  const auto [first, last] = request.equal_range("X-Forwarded-For");
  for (auto field = first; field != last; ++field) {
    std::string_view rest = field->value();
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      std::string_view hop = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      hop = TrimOws(hop);
      if (!hop.empty()) hops.push_back(hop);
    }
  }
  if (hops.size() > kMaxHops) hops.erase(hops.begin(), hops.end() - kMaxHops);
  return hops;
}

// An address as proxies write it: "203.0.113.7", "2001:db8::7", and with a port
// "203.0.113.7:51234" or "[2001:db8::7]:51234".
std::optional<ip::address> ParseHop(std::string_view hop) {
  if (hop.starts_with('[')) {
    const size_t close = hop.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    hop = hop.substr(1, close - 1);
  } else if (const size_t colon = hop.find(':');
             colon != std::string_view::npos &&
             hop.find(':', colon + 1) == std::string_view::npos) {
    hop = hop.substr(0, colon);  // IPv4 with a port: one colon only
  }
  boost::system::error_code ec;
  ip::address address = ip::make_address(std::string(hop), ec);
  if (ec) return std::nullopt;
  return address;
}

}  // namespace

std::optional<ip::address> ForwardedClient(const BeastRequest& request,
                                           const NetworkList& trusted) {
  const std::vector<std::string_view> hops = Hops(request);
  std::optional<ip::address> client;
  for (auto hop = hops.rbegin(); hop != hops.rend(); ++hop) {
    std::optional<ip::address> address = ParseHop(*hop);
    if (!address) return client;  // what a trusted proxy wrote is not an address: stop there
    client = address;
    if (!trusted.Contains(*address)) return client;
  }
  return client;
}

}  // namespace zc::http
