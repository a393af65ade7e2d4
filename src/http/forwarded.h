// The client behind a reverse proxy: when the TCP peer is a trusted proxy ([http]
// trusted_proxies), the client's address is the one the proxies recorded in
// X-Forwarded-For, read from the right (the hop nearest to us) and past every trusted proxy,
// as nginx's real_ip module does with real_ip_recursive. Addresses a client writes there
// itself are only believed when every hop after them is trusted, so a client cannot choose
// its address by sending the header: the leftmost address is what it said, each proxy
// appends the one it saw.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <optional>
#include <string_view>

#include "http/networks.h"
#include "http/request.h"

namespace zc::http {

// The client's address as forwarded to us through `trusted` proxies: the rightmost address
// in the X-Forwarded-For headers of `request` (all of them, in order, comma-separated) that
// is not in `trusted`, or the leftmost when all are. nullopt when the header is absent, or
// an entry to be read is not an IP address (the peer then stays the client). The caller
// checks that the peer itself is trusted.
std::optional<boost::asio::ip::address> ForwardedClient(const BeastRequest& request,
                                                        const NetworkList& trusted);

}  // namespace zc::http
