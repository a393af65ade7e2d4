// The tamper-evident audit log: who did what, when, from where, with what outcome.
//
// Entries are hash-chained: entry n stores prev_hash = hash of entry n-1 (64 '0' for the
// first) and hash = hex(SHA-256(prev_hash ‖ CanonicalEntry(n))), so changing, removing,
// inserting or reordering an entry breaks the chain from that point on. An attacker who can
// write the store could recompute the whole chain, so every `checkpoint_entries` entries or
// `checkpoint_interval` (and at shutdown) the log signs (seq, hash, time) of its newest
// entry with an Ed25519 key kept outside the database (DATA_DIR/audit.key). VerifyAudit
// recomputes the chain and checks every checkpoint against it, which also exposes a log cut
// short behind a checkpoint. Limits: entries appended after the newest checkpoint, or a
// truncation that also deletes the checkpoints behind it, are only detectable by comparing
// with a checkpoint kept elsewhere (its signature verifies with PublicKeyHex()).
//
// Archiving (ArchivePlan, AuditStore::PruneThrough; the files in store/sqlite/audit_archive.h)
// moves the oldest entries out of the live log up to a checkpoint, which stays behind as the
// signed anchor of the chain that remains.
//
// AuditLog is the writer: Record() is cheap and never blocks on I/O (a queue under a mutex),
// a background thread chains the entries and writes each group in one store transaction.
// AuditStore is the storage port; store/sqlite implements it in its own file.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/failure_log.h"
#include "common/result.h"
#include "identity/audit_entry.h"
#include "identity/audit_tally.h"

namespace zc::identity {

// The file name of the checkpoint signing key in the data directory.
inline constexpr const char* kAuditKeyFile = "audit.key";

// The prev_hash of the first entry: 64 '0'.
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// The entry as compact JSON with keys in a fixed order (seq, time, actor, actor_kind,
// department, client_address, action, target, outcome, request_id, detail), hashes excluded.
// Strings are written byte for byte except '"', '\\' and control characters, which are
// escaped as JSON requires; this form is part of the log format and must never change.
std::string CanonicalEntry(const AuditEntry& e);

// hex(SHA-256(prev_hash_hex ‖ CanonicalEntry(e))).
std::string ChainHash(std::string_view prev_hash_hex, const AuditEntry& e);

struct AuditCheckpoint {
  int64_t seq = 0;        // the entry it covers (the newest at signing time)
  std::string hash;       // that entry's hash
  TimeMs time = 0;        // when it was signed
  std::string signature;  // hex Ed25519 signature of CheckpointMessage(seq, hash, time)
};

// "zhicheng-audit-checkpoint|<seq>|<hash>|<time>": what a checkpoint signs.
std::string CheckpointMessage(int64_t seq, std::string_view hash, TimeMs time);

// An Ed25519 key pair for checkpoints. The key file holds the 64-byte secret key as hex;
// it is created with mode 0600 and should be backed up apart from the database.
class SigningKey {
 public:
  // Loads `file`, or creates a new key there when it does not exist (written to a temporary
  // file, fsynced, then renamed, so a crash never leaves a half-written key). Internal on
  // I/O errors or a malformed file.
  static Result<SigningKey> LoadOrCreate(const std::filesystem::path& file);
  // Loads `file`. NotFound when missing; Internal when unreadable or malformed.
  static Result<SigningKey> Load(const std::filesystem::path& file);

  SigningKey(const SigningKey&) = default;
  SigningKey& operator=(const SigningKey&) = default;
  ~SigningKey();  // wipes the secret key

  // The hex detached signature of `message`.
  std::string Sign(std::string_view message) const;
  // True when `signature_hex` is this key's signature of `message`.
  bool Verify(std::string_view message, std::string_view signature_hex) const;
  std::string PublicKeyHex() const;

 private:
  SigningKey() = default;

  unsigned char secret_[64] = {};
  unsigned char public_[32] = {};
};

// Filters of AuditStore::Query; empty strings do not filter.
struct AuditQuery {
  std::string actor;           // exact
  std::string action;          // exact
  std::string target;          // exact, or a prefix when it ends with '*'
  std::optional<TimeMs> from;  // time >= from
  std::optional<TimeMs> to;    // time <= to
  int64_t after_seq = 0;       // seq > after_seq (paging)
  size_t limit = 100;
};

// The storage port of the audit log. Implementations must be thread-safe: AuditLog's thread
// appends while request threads query.
class AuditStore {
 public:
  virtual ~AuditStore() = default;

  // Writes `entries` and `checkpoint` in one durable transaction: all or nothing.
  virtual Status Append(const std::vector<AuditEntry>& entries,
                        const std::optional<AuditCheckpoint>& checkpoint) = 0;
  // The entry with the highest seq; nullopt when the log is empty.
  virtual Result<std::optional<AuditEntry>> Last() = 0;
  // Entries matching `q`, in seq order, at most q.limit.
  virtual Result<std::vector<AuditEntry>> Query(const AuditQuery& q) = 0;
  // Calls `visit` on every entry in seq order; stops at and returns the first error of visit.
  // `visit` must not call back into the store.
  virtual Status Scan(const std::function<Status(const AuditEntry&)>& visit) = 0;
  // Calls `visit` on the entries with after_seq < seq <= through_seq, in seq order; stops
  // at and returns the first error of visit. `visit` must not call back into the store.
  virtual Status ScanRange(int64_t after_seq, int64_t through_seq,
                           const std::function<Status(const AuditEntry&)>& visit) = 0;
  // Every checkpoint, in seq order.
  virtual Result<std::vector<AuditCheckpoint>> Checkpoints() = 0;
  // Deletes, in one durable transaction, the entries up to and including `through_seq` and
  // the checkpoints before it. The checkpoint at `through_seq` stays: it is the signed
  // anchor of the entries that remain (the next entry's prev_hash is its hash). Archiving
  // (ArchivePlan) copies the entries elsewhere first. Errors: Unprocessable when there
  // is no checkpoint at through_seq or no entry after it (the newest entry always stays,
  // so that the chain goes on from it); the store's.
  virtual Status PruneThrough(int64_t through_seq) = 0;
};

// Which entries an archiving run moves out of the live log, as the checkpoints that end
// each archive file: the entries up to the newest checkpoint signed before `cutoff`, never
// the newest entry, cut at checkpoints into files of at most about `max_entries` (a file
// runs on to the next checkpoint when none falls within max_entries). `first_seq` is the
// oldest entry in the log and `last_seq` the newest; `checkpoints` in seq order. Empty when
// nothing is due.
std::vector<AuditCheckpoint> ArchivePlan(const std::vector<AuditCheckpoint>& checkpoints,
                                         int64_t first_seq, int64_t last_seq, TimeMs cutoff,
                                         int64_t max_entries);

struct AuditLogOptions {
  size_t checkpoint_entries = 1000;              // sign after this many new entries
  std::chrono::seconds checkpoint_interval{60};  // or after this long with new entries
  size_t max_queue = 100000;                     // entries waiting; more are dropped
  // How long the thread lets a group form after the first entry arrives, unless
  // group_entries are queued first or Flush()/Checkpoint() asks: fewer, larger commits.
  std::chrono::milliseconds group_delay{10};
  size_t group_entries = 1000;
  // Count(): how long a device's requests are tallied into one entry (audit_tally.h); 0 =
  // one entry per request. At most max_device_windows are open; further keys get entries
  // of their own.
  std::chrono::seconds device_window{300};
  size_t max_device_windows = 100000;  // ~0.5 KB each
};

// The audit writer. Thread-safe; Record() never blocks on I/O.
class AuditLog {
 public:
  // `store` must outlive the log.
  AuditLog(AuditStore& store, SigningKey key, AuditLogOptions options = {});
  // Flushes, writes a final checkpoint when entries follow the last one, joins the thread.
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Reads the newest entry and checkpoint to continue the chain, then starts the thread.
  // REQUIRES: called once, before Flush() and Checkpoint(). Errors: the store's.
  Status Open();

  // Queues `e` (seq, prev_hash and hash are overwritten; time is set when 0). Called on
  // I/O threads for every state-changing request: takes a mutex briefly, never waits on the
  // store. When max_queue entries are waiting (the store is slow or failing) the entry is
  // dropped, counted in Dropped() and a warning is logged at most once a second.
  void Record(AuditEntry e);

  // Tallies `e`, a device's request, into the window of its actor, client address, action
  // and outcome (see audit_tally.h); the window's entry is queued when it ends, on Flush()
  // and at shutdown. The same as Record() when device_window is 0, when max_device_windows
  // are open, or while stopping; true when `e` was tallied, false when recorded alone.
  bool Count(AuditEntry e);

  // Blocks until everything Record()ed before the call is durable, or a write of it has
  // failed (it stays queued in memory and is retried with the next group). Closes every
  // open device window first, so its entry is included.
  void Flush();

  // Writes everything queued and a signed checkpoint of the newest entry now (nothing when
  // the newest entry is already checkpointed). Errors: the store's.
  Status Checkpoint();

  uint64_t Dropped() const;
  // Entries queued or chained but not yet durable (a failed write keeps them for a retry).
  size_t Waiting() const;

 private:
  struct Work {
    std::vector<AuditEntry> entries;
    uint64_t ticket = 0;             // Record()s covered once this work is written
    uint64_t checkpoint_ticket = 0;  // Checkpoint() calls covered
    bool force_checkpoint = false;   // a Checkpoint() call is waiting
    bool stopping = false;
  };
  using SteadyTime = std::chrono::steady_clock::time_point;

  void Run();
  Work TakeWork();
  void AwaitGroup(std::unique_lock<std::mutex>& lock);
  std::optional<SteadyTime> NextDeadline() const;
  Status Write(Work& work);
  bool CheckpointDue(const Work& work, SteadyTime now) const;
  AuditCheckpoint MakeCheckpoint() const;
  void Chain(AuditEntry& e);
  void Complete(const Work& work, const Status& status);

  // Constant after construction.
  AuditStore& store_;
  const SigningKey key_;
  const AuditLogOptions options_;

  mutable std::mutex mu_;
  std::condition_variable wake_;     // the thread waits for work
  std::condition_variable done_;     // Flush()/Checkpoint() wait for the thread
  std::vector<AuditEntry> queue_;    // guarded by mu_
  size_t backlog_ = 0;               // guarded by mu_: chained entries not yet written
  uint64_t accepted_ = 0;            // guarded by mu_: Record()s queued so far
  uint64_t written_ = 0;             // guarded by mu_: Record()s whose write was tried
  uint64_t flush_ticket_ = 0;        // guarded by mu_: the newest ticket a Flush() waits for
  uint64_t checkpoint_asked_ = 0;    // guarded by mu_
  uint64_t checkpoint_served_ = 0;   // guarded by mu_
  Status checkpoint_status_ = Ok();  // guarded by mu_
  uint64_t dropped_ = 0;             // guarded by mu_
  AuditTally tally_;                 // guarded by mu_
  bool tally_opened_ = false;        // guarded by mu_: a first window opened; re-arm the wait
  SteadyTime last_drop_warning_{};   // guarded by mu_
  bool running_ = false;             // guarded by mu_
  bool stopping_ = false;            // guarded by mu_

  // Owned by the thread (set by Open() before it starts).
  int64_t last_seq_ = 0;
  std::string last_hash_{kGenesisHash};
  int64_t checkpoint_seq_ = 0;
  SteadyTime checkpoint_at_{};
  std::vector<AuditEntry> unwritten_;  // chained, not yet durable (a failed write)
  std::optional<SteadyTime> retry_at_;
  FailureLog write_failures_{"audit log: writing entries"};

  std::thread thread_;
};

struct VerifyReport {
  bool ok = true;
  int64_t entries = 0;
  int64_t checkpoints = 0;
  int64_t first_seq = 0;  // the oldest entry (1 unless archived; 0 when the log is empty)
  int64_t last_seq = 0;   // the newest entry
  // The entries before first_seq were archived: the oldest checkpoint, at first_seq - 1,
  // signs the hash the first entry's prev_hash names. 0 when the log starts at entry 1.
  int64_t archived_through = 0;
  std::string first_prev_hash;  // the first entry's prev_hash: what links it to older entries
  std::string last_hash;        // the newest entry's hash: what newer entries continue
  int64_t first_bad_seq = 0;    // 0 when ok
  std::string problem;          // the first problem in words; empty when ok
};

// Recomputes the chain over store.Scan() and checks every checkpoint's signature and hash.
// A log whose older entries were archived (PruneThrough) starts at its anchor: a signed
// checkpoint at the entry before its first, whose hash the first entry's prev_hash names.
// A broken log is a report with ok = false, not an error; errors are the store's.
Result<VerifyReport> VerifyAudit(AuditStore& store, const SigningKey& key);

}  // namespace zc::identity
