#include "http/response_head.h"

#include <ostream>  // before Boost.Beast 1.81 headers that use it without including it

#include <boost/beast/http/status.hpp>

#include <algorithm>
#include <cstring>

#include "common/ascii.h"

namespace zc::http {
namespace {

bool HasNoBody(unsigned status) {
  return status / 100 == 1 || status == 204 || status == 304;
}

}  // namespace

void ResponseHead::Insert(std::string_view name, std::string_view value) {
  fields_.emplace_back(name, value);
}

void ResponseHead::Set(std::string_view name, std::string_view value) {
  Erase(name);
  fields_.emplace_back(name, value);
}

bool ResponseHead::Has(std::string_view name) const {
  return std::any_of(fields_.begin(), fields_.end(),
                     [&](const auto& field) { return IEquals(field.first, name); });
}

void ResponseHead::Erase(std::string_view name) {
  std::erase_if(fields_, [&](const auto& field) { return IEquals(field.first, name); });
}

void ResponseHead::Finish(bool keep_alive, size_t body_size) {
  Erase("Connection");
  Erase("Content-Length");
  Erase("Transfer-Encoding");
  if (version_ == 11 && !keep_alive) fields_.emplace_back("Connection", "close");
  if (version_ == 10 && keep_alive) fields_.emplace_back("Connection", "keep-alive");
  if (HasNoBody(status_)) return;
  content_length_ = std::to_string(body_size);
  fields_.emplace_back("Content-Length", content_length_);
}

std::string ResponseHead::Serialize() const {
  const std::string_view reason =
      boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status_));
  const std::string code = std::to_string(status_);
  size_t size = 9 + code.size() + 1 + reason.size() + 2 + 2;
  for (const auto& [name, value] : fields_) size += name.size() + 2 + value.size() + 2;
  std::string head(size, '\0');
  char* out = head.data();
  const auto put = [&out](std::string_view s) {
    std::memcpy(out, s.data(), s.size());
    out += s.size();
  };
  put(version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  put(code);
  put(" ");
  put(reason);
  put("\r\n");
  for (const auto& [name, value] : fields_) {
    put(name);
    put(": ");
    char* const value_start = out;
    put(value);
    // A line break in a value would end the field and start another (response splitting);
    // values come from handlers and checked request headers, but the head never relies on it.
    std::replace_if(
        value_start, out, [](char c) { return c == '\r' || c == '\n'; }, ' ');
    put("\r\n");
  }
  put("\r\n");
  return head;
}

}  // namespace zc::http
