// HttpNotifier (see notifier.h): maps a context::NotificationRequest onto an
// http::OutboundRequest, sends it with the owned http::Client and reports the receiver's
// status or the transport error. Retries of transport failures wait on steady_timers run
// by a small io_context of the notifier's own, so that no client thread ever sleeps.
#include "api/ngsi/notifier.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <mutex>
#include <utility>
#include <vector>

namespace zc::api::ngsi {

// One notification through its attempts. Owned by the callbacks that continue it.
struct HttpNotifier::Attempt {
  http::OutboundRequest request;
  std::string receiver;  // NotificationRequest::receiver: whose share of the wire it takes
  Done done;
  unsigned retries = 0;
};

HttpNotifier::HttpNotifier(NotifierOptions options)
    : options_(std::move(options)),
      places_(options_.client.max_in_flight, options_.max_in_flight_per_receiver),
      work_(boost::asio::make_work_guard(timers_)),
      client_(std::make_unique<http::Client>(options_.client)),
      timer_thread_([this] { timers_.run(); }) {}

HttpNotifier::~HttpNotifier() {
  {
    std::lock_guard lock(mu_);  // no Start() is between its check and client_->Send now
    stopping_ = true;
  }
  client_.reset();  // pending requests complete now, with Unavailable, without retry
  std::vector<std::shared_ptr<Attempt>> waiting;
  {
    std::lock_guard lock(wire_mu_);
    waiting = places_.TakeAllWaiting();
  }
  for (const auto& attempt : waiting) attempt->done({0, "notifier stopped", true});
  work_.reset();  // the timer thread ends once the scheduled retries have fired
  timer_thread_.join();
}

void HttpNotifier::Send(context::NotificationRequest request, Done done) {
  auto attempt = std::make_shared<Attempt>();
  attempt->request.method = std::move(request.method);
  attempt->request.url = std::move(request.url);
  attempt->request.headers = std::move(request.headers);
  attempt->request.body = std::move(request.body);
  attempt->request.timeout = request.timeout;
  attempt->request.status_suffices = true;  // the receiver's body is never read
  attempt->receiver = std::move(request.receiver);
  attempt->done = std::move(done);
  Start(std::move(attempt));
}

void HttpNotifier::Start(std::shared_ptr<Attempt> attempt) {
  {
    std::lock_guard lock(wire_mu_);
    // At the stop no place is taken: SendOnWire ends the attempt as stopped.
    if (!stopping_ && !places_.TakeOrWait(attempt->receiver, attempt)) return;  // it waits
  }
  SendOnWire(std::move(attempt));
}

void HttpNotifier::SendOnWire(std::shared_ptr<Attempt> attempt) {
  std::unique_lock lock(mu_);
  if (stopping_) {  // its place, if it had one, no longer matters
    lock.unlock();
    return attempt->done({0, "notifier stopped", true});
  }
  http::OutboundRequest copy = attempt->request;
  // Holding mu_ across Send is safe: the client completes on its own threads (FailSoon
  // posts), and the completion never takes mu_ on this thread (LeaveWire hands a place to
  // the next attempt through the timer thread).
  client_->Send(std::move(copy),
                [this, attempt = std::move(attempt)](Result<http::OutboundResponse> result) {
                  LeaveWire(attempt->receiver);
                  Finish(attempt, std::move(result));
                });
}

void HttpNotifier::LeaveWire(const std::string& receiver) {
  std::vector<std::pair<std::string, std::shared_ptr<Attempt>>> go;
  {
    std::lock_guard lock(wire_mu_);
    if (stopping_) return;  // the waiting ones end in the destructor
    go = places_.Leave(receiver);
  }
  for (auto& [name, next] : go) {  // each holds a place already
    boost::asio::post(timers_,
                      [this, next = std::move(next)]() mutable { SendOnWire(std::move(next)); });
  }
}

void HttpNotifier::Finish(const std::shared_ptr<Attempt>& attempt,
                          Result<http::OutboundResponse> result) {
  if (result) return attempt->done({result->status, {}});
  if (stopping_) return attempt->done({0, result.error().message, true});
  const bool transport = result.error().code == ErrorCode::kUnavailable;
  if (!transport || attempt->retries >= options_.max_retries) {
    return attempt->done({0, result.error().message});
  }
  const auto delay = options_.backoff * (1u << attempt->retries);
  attempt->retries++;
  auto timer = std::make_shared<boost::asio::steady_timer>(timers_, delay);
  timer->async_wait([this, attempt, timer, error = result.error().message](auto) {
    if (stopping_) return attempt->done({0, error, true});
    Start(attempt);
  });
}

}  // namespace zc::api::ngsi
