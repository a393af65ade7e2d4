// Result<T>: the value of an operation that can fail in an expected way (bad input, not
// found, conflict). Bugs are not Results: they are asserts or exceptions at start-up.
//
// Error codes are protocol-neutral; api/ maps them to HTTP status codes and to each
// protocol's error format (for NGSI-v2: {"error": "...", "description": "..."}).
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace zc {

enum class ErrorCode {
  kBadRequest,        // malformed or invalid input
  kParseError,        // a body that is not well-formed (JSON syntax)
  kNotFound,          // the target does not exist (a documented result, not a fault)
  kAlreadyExists,     // create of something that exists
  kTooManyResults,    // an ambiguous reference matched more than one target
  kUnprocessable,     // well-formed but cannot be applied (e.g. append on an existing attr)
  kMethodNotAllowed,  // the resource exists, the method does not apply
  kPayloadTooLarge,   // a body or a batch over its limit
  kNoResources,       // more of a resource than is allowed (Orion's NoResourcesAvailable): an
                      // answer too large, a tenant's entities over their limit
  kUnsupportedMedia,  // a Content-Type we do not accept
  kLengthRequired,    // a body without Content-Length where one is needed
  kNotAcceptable,     // the Accept header names nothing we can produce
  kUnauthorized,      // no or bad credentials
  kForbidden,         // credentials fine, permission missing
  kTooManyRequests,   // rate limit
  kUnavailable,       // shutting down, overloaded, store not ready
  kInternal,          // storage failure or another fault we could not avoid
  kDataLoss,          // stored data that cannot be read back: a damaged file (500, as kInternal)
};

// An expected failure: a code and a message meant for the client (no internals).
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  static Error BadRequest(std::string m) { return {ErrorCode::kBadRequest, std::move(m)}; }
  static Error ParseError(std::string m) { return {ErrorCode::kParseError, std::move(m)}; }
  static Error NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
  static Error AlreadyExists(std::string m) { return {ErrorCode::kAlreadyExists, std::move(m)}; }
  static Error TooManyResults(std::string m) { return {ErrorCode::kTooManyResults, std::move(m)}; }
  static Error Unprocessable(std::string m) { return {ErrorCode::kUnprocessable, std::move(m)}; }
  static Error MethodNotAllowed(std::string m) {
    return {ErrorCode::kMethodNotAllowed, std::move(m)};
  }
  static Error PayloadTooLarge(std::string m) {
    return {ErrorCode::kPayloadTooLarge, std::move(m)};
  }
  static Error NoResources(std::string m) { return {ErrorCode::kNoResources, std::move(m)}; }
  static Error UnsupportedMedia(std::string m) {
    return {ErrorCode::kUnsupportedMedia, std::move(m)};
  }
  static Error LengthRequired(std::string m) { return {ErrorCode::kLengthRequired, std::move(m)}; }
  static Error NotAcceptable(std::string m) { return {ErrorCode::kNotAcceptable, std::move(m)}; }
  static Error Unauthorized(std::string m) { return {ErrorCode::kUnauthorized, std::move(m)}; }
  static Error Forbidden(std::string m) { return {ErrorCode::kForbidden, std::move(m)}; }
  static Error TooManyRequests(std::string m) {
    return {ErrorCode::kTooManyRequests, std::move(m)};
  }
  static Error Unavailable(std::string m) { return {ErrorCode::kUnavailable, std::move(m)}; }
  static Error Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }
  static Error DataLoss(std::string m) { return {ErrorCode::kDataLoss, std::move(m)}; }
};

template <typename T>
using Result = std::expected<T, Error>;

// `return Fail(Error::NotFound("..."));` reads better than std::unexpected at call sites.
inline std::unexpected<Error> Fail(Error e) {
  return std::unexpected<Error>(std::move(e));
}

// Status is a Result without a value.
using Status = Result<void>;
inline Status Ok() {
  return {};
}

}  // namespace zc
