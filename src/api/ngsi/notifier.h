// HttpNotifier: the NotificationSender that delivers subscription notifications over
// HTTP/1.1 with an http::Client it owns (keep-alive pools, per-request timeouts, its own
// I/O thread), so that a slow receiver never occupies a server or writer thread.
//
// Concurrency: at most `client.max_in_flight` requests are on the wire at once, and at most
// `max_in_flight_per_receiver` to one receiver (FairPlaces); the others wait, in order per
// receiver, receivers taking turns. Waiting is local back-pressure, so it is neither a
// failure of the receiver nor a retry (before, a notification past the limit failed at
// once and was retried after the backoff: a burst of 10,000 from one op/update to a
// receiver that answers at once lost nine in ten), and a receiver that never answers
// holds only its own share of the wire. How many may wait is the subscription manager's
// bound on notifications in progress.
//
// Retries: only when no response was received (connect failure, timeout, closed
// connection; the client reports these as Unavailable), at most `max_retries` times, after
// `backoff`, then twice that, and so on. A receiver's HTTP status, even 5xx, is final, and
// so is a bad URL; the status counts as soon as the response's head is in, even when its
// body then stalls or breaks off (OutboundRequest::status_suffices). A retried timeout may deliver
// a notification twice (the receiver may have processed the first attempt): notifications are
// at-least-once on this path.
//
// Shutdown: the destructor stops the client (in-flight requests complete with their
// error, no retry), ends the waiting ones and waits for scheduled retries to fire (at most
// the longest backoff); each `done` runs exactly once before the destructor returns. A result that
// the stop decided (and every Send from then on) has `stopped` set: it says nothing about the
// receiver.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "api/ngsi/fair_places.h"
#include "context/subscription_manager.h"
#include "http/client.h"

namespace zc::api::ngsi {

struct NotifierOptions {
  http::ClientOptions client;
  size_t max_in_flight_per_receiver = 100;  // of client.max_in_flight, to one receiver
  unsigned max_retries = 2;
  std::chrono::milliseconds backoff{200};  // before the first retry; doubled each time
};

class HttpNotifier : public context::NotificationSender {
 public:
  explicit HttpNotifier(NotifierOptions options = {});
  ~HttpNotifier() override;
  HttpNotifier(const HttpNotifier&) = delete;
  HttpNotifier& operator=(const HttpNotifier&) = delete;

  // Thread-safe, non-blocking. `done` runs on a client or retry thread.
  void Send(context::NotificationRequest request, Done done) override;

 private:
  struct Attempt;
  // Puts `attempt` on the wire, or in waiting_ when the wire is full.
  void Start(std::shared_ptr<Attempt> attempt);
  // Sends `attempt`, which holds one of the wire's places.
  void SendOnWire(std::shared_ptr<Attempt> attempt);
  // A request to `receiver` left the wire: its place goes to a waiting attempt, if any.
  void LeaveWire(const std::string& receiver);
  void Finish(const std::shared_ptr<Attempt>& attempt, Result<http::OutboundResponse> result);

  // Constant after construction.
  const NotifierOptions options_;

  std::mutex mu_;  // guards the use of client_ against its reset in the destructor
  std::atomic<bool> stopping_{false};            // written under mu_
  std::mutex wire_mu_;                           // never held while calling the client or a `done`
  FairPlaces<std::shared_ptr<Attempt>> places_;  // guarded by wire_mu_
  boost::asio::io_context timers_;               // runs the retry timers on timer_thread_
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::unique_ptr<http::Client> client_;  // reset first in the destructor
  std::thread timer_thread_;
};

}  // namespace zc::api::ngsi
