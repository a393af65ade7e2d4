// The status line and header fields of a response, written straight into one string.
//
// The server used to build every response in Beast's fields container and serialize that;
// for a small response this took ~9% of an I/O thread's instructions. ResponseHead keeps
// the same rules with a plain vector of (name, value) views, in insertion order:
//  - Insert appends a field; Set removes every field of that name (compared
//    case-insensitively) and appends the new one, as beast::http::fields::set does;
//  - Finish adds Connection as Beast's keep_alive() does, and Content-Length as its
//    prepare_payload() does except on 1xx, 204 and 304, where RFC 9110 (section 8.6)
//    forbids it or makes it pointless and Beast 1.81 wrote "Content-Length: 0";
//  - names are written as given; a CR or LF in a value is written as a space, so no value
//    can end its field early.
// The views must outlive Serialize(): they point into the Response, the request and
// constants.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zc::http {

class ResponseHead {
 public:
  // `version` as Beast counts it: 10 or 11.
  ResponseHead(unsigned status, unsigned version) : status_(status), version_(version) {}

  void Insert(std::string_view name, std::string_view value);
  void Set(std::string_view name, std::string_view value);
  bool Has(std::string_view name) const;

  // Connection for `keep_alive` (HTTP/1.1 says close, HTTP/1.0 says keep-alive) and
  // Content-Length of a `body_size`-byte body, none for 1xx, 204 and 304. Fields named
  // Connection, Content-Length or Transfer-Encoding set before are dropped.
  // REQUIRES: called once, last; the body of a 1xx, 204 or 304 response is empty.
  void Finish(bool keep_alive, size_t body_size);

  std::string Serialize() const;

 private:
  void Erase(std::string_view name);

  unsigned status_;
  unsigned version_;
  std::vector<std::pair<std::string_view, std::string_view>> fields_;
  std::string content_length_;  // the value Finish() wrote, which fields_ points into
};

}  // namespace zc::http
