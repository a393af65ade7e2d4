// The audit log (see audit.h for the design): the canonical entry form and chain hash, the
// checkpoint signing key and its file, the group-committing writer thread, and verification.
//
// Writer thread: it sleeps until Record() queues entries, Checkpoint() asks for a checkpoint,
// the checkpoint interval expires with unsigned entries, a failed write is due for retry, or
// the log stops. Woken by entries, it lets a group form for group_delay (cut short by
// group_entries, Flush(), Checkpoint() or stopping): nobody waits for these entries, and a
// commit's fixed cost (transaction, WAL header, fsync) is then shared by many. It then
// takes the whole queue, chains each entry onto the previous one (seq, time, prev_hash,
// hash), and hands everything to the store in one Append, with a signed checkpoint when
// one is due. If the Append fails the chained entries stay in memory and are sent again,
// ahead of newer ones, with the next group, so the chain in the store never has a hole. Flush() and
// Checkpoint() wait on tickets: counters of what was queued before they were called, compared with
// what the thread has tried to write.
//
// Key file: the 64-byte Ed25519 secret key (seed ‖ public key) as 128 hex characters and a
// newline, mode 0600.
#include "identity/audit.h"

#include "common/thread_name.h"
#include "identity/secrets.h"

#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>

namespace zc::identity {
namespace {

using std::chrono::steady_clock;

constexpr auto kRetryDelay = std::chrono::seconds(1);
constexpr auto kDropWarningEvery = std::chrono::seconds(1);

// A JSON string: '"', '\\' and control characters escaped (controls always as \u00XX, so
// there is exactly one form), every other byte as is.
void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t plain = 0;  // start of the run of bytes not yet appended, which need no escape
  for (size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x20 && u != '"' && u != '\\') continue;
    out.append(s, plain, i - plain);
    plain = i + 1;
    if (u >= 0x20) {
      out.push_back('\\');
      out.push_back(s[i]);
    } else {
      out.append("\\u00");
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    }
  }
  out.append(s, plain);
  out.push_back('"');
}

std::string Hex(const unsigned char* data, size_t size) {
  std::string out(size * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, size);
  out.pop_back();  // the terminating NUL
  return out;
}

// Decodes exactly `size` bytes; false when `hex` is malformed or of another length.
bool FromHex(std::string_view hex, unsigned char* out, size_t size) {
  if (hex.size() != size * 2) return false;
  size_t len = 0;
  return sodium_hex2bin(out, size, hex.data(), hex.size(), nullptr, &len, nullptr) == 0 &&
         len == size;
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Error IoError(std::string_view what, const std::filesystem::path& file) {
  const std::string reason = std::error_code(errno, std::generic_category()).message();
  return Error::Internal(std::string(what) + " " + file.string() + ": " + reason);
}

void WarnIfReadableByOthers(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    spdlog::warn("the audit key {} is readable by other users; chmod 600 it", file.string());
  }
}

Status InitSodium() {
  if (sodium_init() < 0) return Fail(Error::Internal("libsodium failed to initialize"));
  return Ok();
}

}  // namespace

std::string CanonicalEntry(const AuditEntry& e) {
  const std::pair<const char*, const std::string*> fields[] = {
      {"actor", &e.actor},           {"actor_kind", &e.actor_kind},
      {"department", &e.department}, {"client_address", &e.client_address},
      {"action", &e.action},         {"target", &e.target},
      {"outcome", &e.outcome},       {"request_id", &e.request_id},
      {"detail", &e.detail},
  };
  size_t size = 64;
  for (const auto& [name, value] : fields) size += std::strlen(name) + value->size() + 8;
  std::string out;
  out.reserve(size);
  out.append("{\"seq\":").append(std::to_string(e.seq));
  out.append(",\"time\":").append(std::to_string(e.time));
  for (const auto& [name, value] : fields) {
    out.append(",\"").append(name).append("\":");
    AppendJsonString(out, *value);
  }
  out.push_back('}');
  return out;
}

std::string ChainHash(std::string_view prev_hash_hex, const AuditEntry& e) {
  std::string message(prev_hash_hex);
  message += CanonicalEntry(e);
  return Sha256Hex(message);
}

std::string CheckpointMessage(int64_t seq, std::string_view hash, TimeMs time) {
  return "zhicheng-audit-checkpoint|" + std::to_string(seq) + "|" + std::string(hash) + "|" +
         std::to_string(time);
}

Result<SigningKey> SigningKey::Load(const std::filesystem::path& file) {
  if (auto s = InitSodium(); !s) return Fail(s.error());
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    return Fail(Error::NotFound("the audit key " + file.string() + " does not exist"));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in.is_open()) return Fail(IoError("open", file));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Fail(IoError("read", file));
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  SigningKey key;
  const bool ok = FromHex(text, key.secret_, sizeof key.secret_);
  sodium_memzero(text.data(), text.size());
  if (!ok) return Fail(Error::Internal("the audit key " + file.string() + " is malformed"));
  crypto_sign_ed25519_sk_to_pk(key.public_, key.secret_);
  WarnIfReadableByOthers(file);
  return key;
}

Result<SigningKey> SigningKey::LoadOrCreate(const std::filesystem::path& file) {
  auto loaded = Load(file);
  if (loaded || loaded.error().code != ErrorCode::kNotFound) return loaded;
  SigningKey key;
  crypto_sign_keypair(key.public_, key.secret_);
  std::string text = Hex(key.secret_, sizeof key.secret_) + "\n";
  const Status written = WriteSecretFile(file, text);
  sodium_memzero(text.data(), text.size());
  if (!written) return Fail(written.error());
  spdlog::info("created the audit signing key {} (public key {})", file.string(),
               key.PublicKeyHex());
  return key;
}

SigningKey::~SigningKey() {
  sodium_memzero(secret_, sizeof secret_);
}

std::string SigningKey::Sign(std::string_view message) const {
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, Bytes(message), message.size(), secret_);
  return Hex(sig, sizeof sig);
}

bool SigningKey::Verify(std::string_view message, std::string_view signature_hex) const {
  unsigned char sig[crypto_sign_BYTES];
  if (!FromHex(signature_hex, sig, sizeof sig)) return false;
  return crypto_sign_verify_detached(sig, Bytes(message), message.size(), public_) == 0;
}

std::string SigningKey::PublicKeyHex() const {
  return Hex(public_, sizeof public_);
}

AuditLog::AuditLog(AuditStore& store, SigningKey key, AuditLogOptions options)
    : store_(store),
      key_(std::move(key)),
      options_(options),
      tally_(options.device_window, options.max_device_windows) {}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    wake_.notify_one();
    if (!running_ && !queue_.empty()) {
      spdlog::error("audit log: {} entries lost: the log was never opened", queue_.size());
    }
  }
  if (thread_.joinable()) thread_.join();
}

Status AuditLog::Open() {
  {
    std::lock_guard lock(mu_);
    if (running_ || stopping_) return Fail(Error::Internal("the audit log is already open"));
  }
  auto last = store_.Last();
  if (!last) return Fail(last.error());
  auto checkpoints = store_.Checkpoints();
  if (!checkpoints) return Fail(checkpoints.error());
  if (*last) {
    last_seq_ = (*last)->seq;
    last_hash_ = (*last)->hash;
  }
  if (!checkpoints->empty()) checkpoint_seq_ = checkpoints->back().seq;
  checkpoint_at_ = steady_clock::now();
  {
    std::lock_guard lock(mu_);
    running_ = true;
  }
  thread_ = std::thread([this] {
    NameThisThread("zc-audit");
    Run();
  });
  return Ok();
}

void AuditLog::Record(AuditEntry e) {
  bool warn = false;
  uint64_t dropped = 0;
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && queue_.size() + backlog_ < options_.max_queue) {
      // The thread only waits while the queue is empty: one wake-up per group is enough.
      if (queue_.empty()) wake_.notify_one();
      queue_.push_back(std::move(e));
      if (queue_.size() == options_.group_entries) wake_.notify_one();  // the group is full
      ++accepted_;
      return;
    }
    dropped = ++dropped_;
    const auto now = steady_clock::now();
    if (now - last_drop_warning_ >= kDropWarningEvery) {
      last_drop_warning_ = now;
      warn = true;
    }
  }
  if (warn) spdlog::warn("audit log full or stopping: {} entries dropped so far", dropped);
}

bool AuditLog::Count(AuditEntry e) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && options_.device_window.count() > 0) {
      const bool idle = !tally_.NextClose();
      if (tally_.Add(e, steady_clock::now())) {
        if (idle) {  // the thread may wait without a deadline: let it take this one
          tally_opened_ = true;
          wake_.notify_one();
        }
        return true;
      }
    }
  }
  Record(std::move(e));
  return false;
}

void AuditLog::Flush() {
  std::unique_lock lock(mu_);
  accepted_ += tally_.TakeAll(queue_);
  const uint64_t ticket = accepted_;
  if (written_ < ticket) {
    flush_ticket_ = std::max(flush_ticket_, ticket);
    wake_.notify_one();
  }
  done_.wait(lock, [&] { return written_ >= ticket || !running_; });
}

Status AuditLog::Checkpoint() {
  std::unique_lock lock(mu_);
  if (!running_) return Fail(Error::Unavailable("the audit log is not running"));
  const uint64_t ticket = ++checkpoint_asked_;
  wake_.notify_one();
  done_.wait(lock, [&] { return checkpoint_served_ >= ticket || !running_; });
  if (checkpoint_served_ < ticket) return Fail(Error::Unavailable("the audit log stopped"));
  return checkpoint_status_;
}

uint64_t AuditLog::Dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

size_t AuditLog::Waiting() const {
  std::lock_guard lock(mu_);
  return queue_.size() + backlog_;
}

void AuditLog::Run() {
  for (;;) {
    Work work = TakeWork();
    const Status status = Write(work);
    Complete(work, status);
    if (work.stopping) return;
  }
}

AuditLog::Work AuditLog::TakeWork() {
  std::unique_lock lock(mu_);
  const auto work_ready = [this] {
    return stopping_ || !queue_.empty() || checkpoint_asked_ > checkpoint_served_;
  };
  // Waits for work or the next deadline; a device window opened meanwhile re-arms the wait
  // with its end as a deadline.
  for (bool rearm = true; rearm;) {
    tally_opened_ = false;
    const auto ready = [&] { return work_ready() || tally_opened_; };
    if (const auto deadline = NextDeadline()) {
      wake_.wait_until(lock, *deadline, ready);
    } else {
      wake_.wait(lock, ready);
    }
    rearm = tally_opened_ && !work_ready();
  }
  const auto now = steady_clock::now();
  accepted_ += stopping_ ? tally_.TakeAll(queue_) : tally_.TakeDue(now, queue_);
  AwaitGroup(lock);
  Work work;
  work.entries.swap(queue_);
  work.ticket = accepted_;
  work.checkpoint_ticket = checkpoint_asked_;
  work.force_checkpoint = checkpoint_asked_ > checkpoint_served_;
  work.stopping = stopping_;
  return work;
}

// Lets a group of entries form (see the top of the file). A wake-up without new entries (a
// retry, a due checkpoint) does not wait.
void AuditLog::AwaitGroup(std::unique_lock<std::mutex>& lock) {
  if (queue_.empty() || options_.group_delay.count() <= 0) return;
  wake_.wait_until(lock, steady_clock::now() + options_.group_delay, [this] {
    return stopping_ || flush_ticket_ > written_ || checkpoint_asked_ > checkpoint_served_ ||
           queue_.size() >= options_.group_entries;
  });
}

// When the thread must wake without being asked: to retry a failed write, to sign
// entries that have waited checkpoint_interval, or to close a device window.
std::optional<AuditLog::SteadyTime> AuditLog::NextDeadline() const {
  std::optional<SteadyTime> at = tally_.NextClose();
  auto earliest = [&at](SteadyTime t) { at = at ? std::min(*at, t) : t; };
  if (retry_at_) {
    earliest(*retry_at_);
  } else if (last_seq_ > checkpoint_seq_) {
    earliest(checkpoint_at_ + options_.checkpoint_interval);
  }
  return at;
}

Status AuditLog::Write(Work& work) {
  for (AuditEntry& e : work.entries) {
    Chain(e);
    unwritten_.push_back(std::move(e));
  }
  const auto now = steady_clock::now();
  std::optional<AuditCheckpoint> checkpoint;
  if (CheckpointDue(work, now)) checkpoint = MakeCheckpoint();
  if (unwritten_.empty() && !checkpoint) return Ok();
  Status status = store_.Append(unwritten_, checkpoint);
  if (!status) {
    retry_at_ = now + kRetryDelay;
    write_failures_.Failed(
        fmt::format("{} entries{} wait in memory for a retry: {}", unwritten_.size(),
                    checkpoint ? " and a checkpoint" : "", status.error().message),
        now);
    return status;
  }
  write_failures_.Succeeded();
  unwritten_.clear();
  retry_at_.reset();
  if (checkpoint) {
    checkpoint_seq_ = checkpoint->seq;
    checkpoint_at_ = now;
  }
  return status;
}

bool AuditLog::CheckpointDue(const Work& work, SteadyTime now) const {
  if (last_seq_ == checkpoint_seq_) return false;  // the newest entry is signed already
  return work.stopping || work.force_checkpoint ||
         last_seq_ - checkpoint_seq_ >= static_cast<int64_t>(options_.checkpoint_entries) ||
         now - checkpoint_at_ >= options_.checkpoint_interval;
}

AuditCheckpoint AuditLog::MakeCheckpoint() const {
  AuditCheckpoint cp{last_seq_, last_hash_, NowMs(), {}};
  cp.signature = key_.Sign(CheckpointMessage(cp.seq, cp.hash, cp.time));
  return cp;
}

void AuditLog::Chain(AuditEntry& e) {
  e.seq = ++last_seq_;
  if (e.time == 0) e.time = NowMs();
  e.prev_hash = last_hash_;
  e.hash = ChainHash(e.prev_hash, e);
  last_hash_ = e.hash;
}

void AuditLog::Complete(const Work& work, const Status& status) {
  if (work.stopping && !status) {
    if (unwritten_.empty()) {
      spdlog::error("audit log: the closing checkpoint was not written: {}",
                    status.error().message);
    } else {
      spdlog::error("audit log: {} entries lost at shutdown: {}", unwritten_.size(),
                    status.error().message);
    }
  }
  std::lock_guard lock(mu_);
  written_ = work.ticket;
  backlog_ = unwritten_.size();
  checkpoint_served_ = work.checkpoint_ticket;
  checkpoint_status_ = status;
  if (work.stopping) running_ = false;
  done_.notify_all();
}

std::vector<AuditCheckpoint> ArchivePlan(const std::vector<AuditCheckpoint>& checkpoints,
                                         int64_t first_seq, int64_t last_seq, TimeMs cutoff,
                                         int64_t max_entries) {
  const AuditCheckpoint* through = nullptr;
  for (const AuditCheckpoint& cp : checkpoints) {
    if (cp.time < cutoff && cp.seq >= first_seq && cp.seq < last_seq) through = &cp;
  }
  std::vector<AuditCheckpoint> ends;
  if (through == nullptr) return ends;
  int64_t start = first_seq;
  const AuditCheckpoint* fits = nullptr;  // the furthest end within max_entries of start
  for (const AuditCheckpoint& cp : checkpoints) {
    if (cp.seq < start) continue;
    if (cp.seq > through->seq) break;
    if (fits != nullptr && cp.seq - start + 1 > max_entries) {
      ends.push_back(*fits);
      start = fits->seq + 1;
      fits = nullptr;
    }
    if (cp.seq - start + 1 > max_entries) {  // no checkpoint within max_entries: run on to cp
      ends.push_back(cp);
      start = cp.seq + 1;
      continue;
    }
    fits = &cp;
  }
  if (fits != nullptr) ends.push_back(*fits);
  return ends;
}

namespace {

// One pass over the entries in seq order, with the checkpoints (sorted by seq) merged in.
// Only the first problem is kept; counting continues to the end.
class Verifier {
 public:
  Verifier(const SigningKey& key, std::vector<AuditCheckpoint> checkpoints)
      : key_(key), checkpoints_(std::move(checkpoints)) {
    std::sort(checkpoints_.begin(), checkpoints_.end(),
              [](const auto& a, const auto& b) { return a.seq < b.seq; });
    report_.checkpoints = static_cast<int64_t>(checkpoints_.size());
  }

  void Visit(const AuditEntry& e) {
    if (report_.entries++ == 0) {
      report_.first_seq = e.seq;
      report_.first_prev_hash = e.prev_hash;
      if (e.seq > 1) StartAtAnchor(e);
    }
    report_.last_seq = e.seq;
    report_.last_hash = e.hash;
    CheckLink(e);
    while (next_ < checkpoints_.size() && checkpoints_[next_].seq <= e.seq) {
      CheckCheckpoint(checkpoints_[next_++], e);
    }
    last_seq_ = e.seq;
    last_hash_ = e.hash;
  }

  VerifyReport Finish() {
    const AuditCheckpoint* newest = nullptr;
    for (; next_ < checkpoints_.size(); ++next_) {
      const AuditCheckpoint& cp = checkpoints_[next_];
      if (SignatureOk(cp)) newest = &cp;
    }
    if (newest != nullptr) {
      const std::string last =
          last_seq_ == 0 ? "the log is empty" : "last entry " + std::to_string(last_seq_);
      Problem(last_seq_ + 1, "checkpoint at entry " + std::to_string(newest->seq) +
                                 " points past the end of the log (" + last + "): truncated");
    }
    return std::move(report_);
  }

 private:
  void Problem(int64_t seq, std::string what) {
    if (!report_.ok) return;
    report_.ok = false;
    report_.first_bad_seq = seq;
    report_.problem = std::move(what);
  }

  // A log whose older entries were archived starts after the oldest checkpoint, which
  // signs the hash that its first entry's prev_hash names. Without that anchor CheckLink
  // reports the entries before the first as missing.
  void StartAtAnchor(const AuditEntry& first) {
    if (next_ >= checkpoints_.size() || checkpoints_[next_].seq != first.seq - 1) return;
    const AuditCheckpoint& anchor = checkpoints_[next_++];
    if (!SignatureOk(anchor)) return;
    if (anchor.hash != first.prev_hash) {
      Problem(first.seq, "entry " + std::to_string(first.seq) +
                             ": prev_hash is not the hash that the archive anchor (the "
                             "checkpoint at entry " +
                             std::to_string(anchor.seq) + ") signs");
      return;
    }
    last_seq_ = anchor.seq;
    last_hash_ = anchor.hash;
    report_.archived_through = anchor.seq;
  }

  void CheckLink(const AuditEntry& e) {
    const std::string s = std::to_string(e.seq);
    const std::string last = std::to_string(last_seq_);
    if (e.seq <= last_seq_) {
      Problem(e.seq, "entry " + s + " out of order (after entry " + last + ")");
    } else if (e.seq > last_seq_ + 1) {
      Problem(last_seq_ + 1, Missing(e.seq));
    } else if (ChainHash(e.prev_hash, e) != e.hash) {
      Problem(e.seq, "entry " + s + ": hash does not match its content");
    } else if (e.prev_hash != last_hash_) {
      Problem(e.seq, "entry " + s + ": prev_hash is not the hash of " +
                         (last_seq_ == 0 ? "the chain start" : "entry " + last) +
                         " (an entry was inserted, replaced or reordered)");
    }
  }

  std::string Missing(int64_t seq) const {
    const std::string first = std::to_string(last_seq_ + 1);
    const std::string what =
        seq == last_seq_ + 2 ? "entry " + first + " missing"
                             : "entries " + first + " to " + std::to_string(seq - 1) + " missing";
    if (last_seq_ == 0) return what + " (the log starts at entry " + std::to_string(seq) + ")";
    return what + " (chain jumps from " + std::to_string(last_seq_) + " to " + std::to_string(seq) +
           ")";
  }

  bool SignatureOk(const AuditCheckpoint& cp) {
    if (key_.Verify(CheckpointMessage(cp.seq, cp.hash, cp.time), cp.signature)) return true;
    Problem(cp.seq, "checkpoint at entry " + std::to_string(cp.seq) +
                        ": bad signature (forged, altered or signed by another key)");
    return false;
  }

  void CheckCheckpoint(const AuditCheckpoint& cp, const AuditEntry& e) {
    if (!SignatureOk(cp)) return;
    const std::string s = std::to_string(cp.seq);
    if (cp.seq != e.seq) {
      Problem(cp.seq, "checkpoint at entry " + s + ": the entry is missing");
    } else if (cp.hash != e.hash) {
      Problem(cp.seq, "checkpoint at entry " + s +
                          ": hash differs from the entry's (the log was rewritten up to here)");
    }
  }

  const SigningKey& key_;
  std::vector<AuditCheckpoint> checkpoints_;
  size_t next_ = 0;  // the first checkpoint not yet checked
  VerifyReport report_;
  int64_t last_seq_ = 0;
  std::string last_hash_{kGenesisHash};
};

}  // namespace

Result<VerifyReport> VerifyAudit(AuditStore& store, const SigningKey& key) {
  auto checkpoints = store.Checkpoints();
  if (!checkpoints) return Fail(checkpoints.error());
  Verifier verifier(key, std::move(*checkpoints));
  const Status scanned = store.Scan([&](const AuditEntry& e) {
    verifier.Visit(e);
    return Ok();
  });
  if (!scanned) return Fail(scanned.error());
  return verifier.Finish();
}

}  // namespace zc::identity
