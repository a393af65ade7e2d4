// Tests of the audit log against an in-memory AuditStore: the canonical form and chain hash
// (with a known answer, so the log format cannot change unnoticed), the signing key and its
// file, the writer (chain continuity across reopen, group commit of concurrent Record calls,
// checkpoints, store failures, the queue limit) and VerifyAudit on each kind of tampering.
// The fake store can hold Append at a gate, which makes group commit deterministic without
// sleeping.
#include "identity/audit.h"
#include "common/temp_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <future>
#include <memory>
#include <thread>

namespace zc::identity {
namespace {

// An AuditStore in memory. Scan visits entries in the order they are held, so tests can
// tamper with `entries` directly as an attacker with write access to the rows would.
class MemoryAuditStore : public AuditStore {
 public:
  std::vector<AuditEntry> entries;           // guarded by mu_ while a log runs
  std::vector<AuditCheckpoint> checkpoints;  // guarded by mu_ while a log runs

  Status Append(const std::vector<AuditEntry>& add,
                const std::optional<AuditCheckpoint>& checkpoint) override {
    std::unique_lock lock(mu_);
    ++appends_;
    in_append_ = true;
    changed_.notify_all();
    changed_.wait(lock, [this] { return !gate_closed_; });
    in_append_ = false;
    if (failures_ > 0) {
      --failures_;
      return Fail(Error::Internal("disk full"));
    }
    entries.insert(entries.end(), add.begin(), add.end());
    if (checkpoint) checkpoints.push_back(*checkpoint);
    changed_.notify_all();
    return Ok();
  }
  Result<std::optional<AuditEntry>> Last() override {
    std::lock_guard lock(mu_);
    if (entries.empty()) return std::nullopt;
    return entries.back();
  }
  Result<std::vector<AuditEntry>> Query(const AuditQuery& q) override {
    std::lock_guard lock(mu_);
    std::vector<AuditEntry> out;
    for (const AuditEntry& e : entries) {
      if (e.seq > q.after_seq && (q.actor.empty() || e.actor == q.actor) && out.size() < q.limit) {
        out.push_back(e);
      }
    }
    return out;
  }
  Status Scan(const std::function<Status(const AuditEntry&)>& visit) override {
    std::vector<AuditEntry> copy;
    {
      std::lock_guard lock(mu_);
      copy = entries;
    }
    for (const AuditEntry& e : copy) {
      if (auto s = visit(e); !s) return s;
    }
    return Ok();
  }
  Status ScanRange(int64_t after_seq, int64_t through_seq,
                   const std::function<Status(const AuditEntry&)>& visit) override {
    return Scan([&](const AuditEntry& e) {
      return e.seq > after_seq && e.seq <= through_seq ? visit(e) : Ok();
    });
  }
  Result<std::vector<AuditCheckpoint>> Checkpoints() override {
    std::lock_guard lock(mu_);
    return checkpoints;
  }
  // Without the checks of the SQLite store's: the tests here prune as an archiver would.
  Status PruneThrough(int64_t through_seq) override {
    std::lock_guard lock(mu_);
    std::erase_if(entries, [&](const AuditEntry& e) { return e.seq <= through_seq; });
    std::erase_if(checkpoints, [&](const AuditCheckpoint& cp) { return cp.seq < through_seq; });
    return Ok();
  }

  // Makes Append wait until OpenGate(); WaitInAppend() returns once the log is waiting there.
  void CloseGate() {
    std::lock_guard lock(mu_);
    gate_closed_ = true;
  }
  void WaitInAppend() {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [this] { return in_append_; });
  }
  void OpenGate() {
    std::lock_guard lock(mu_);
    gate_closed_ = false;
    changed_.notify_all();
  }
  void FailNextAppends(int n) {
    std::lock_guard lock(mu_);
    failures_ = n;
  }
  // False when fewer than `n` entries were written within a minute.
  bool WaitForEntries(size_t n) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, std::chrono::minutes(1), [&] { return entries.size() >= n; });
  }
  int Appends() {
    std::lock_guard lock(mu_);
    return appends_;
  }
  std::vector<AuditEntry> Entries() {
    std::lock_guard lock(mu_);
    return entries;
  }
  std::vector<AuditCheckpoint> CheckpointList() {
    std::lock_guard lock(mu_);
    return checkpoints;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool gate_closed_ = false;
  bool in_append_ = false;
  int failures_ = 0;
  int appends_ = 0;
};

AuditEntry Entry(std::string actor, std::string action = "entity.update",
                 std::string target = "urn:ngsi-ld:Room:1") {
  AuditEntry e;
  e.actor = std::move(actor);
  e.actor_kind = "user";
  e.department = "chengguan";
  e.client_address = "10.0.0.1";
  e.action = std::move(action);
  e.target = std::move(target);
  e.outcome = "204";
  e.request_id = "req";
  return e;
}

class AuditTest : public ::testing::Test {
 protected:
  SigningKey Key() { return *SigningKey::LoadOrCreate(dir_.path() / kAuditKeyFile); }

  // A log of `n` entries with a checkpoint every `every` entries (one entry per group).
  void Fill(int n, size_t every) {
    AuditLog log(store_, Key(), {.checkpoint_entries = every});
    ASSERT_TRUE(log.Open());
    for (int i = 1; i <= n; ++i) {
      log.Record(Entry("user" + std::to_string(i)));
      log.Flush();
    }
  }

  VerifyReport Verify() {
    auto report = VerifyAudit(store_, Key());
    EXPECT_TRUE(report) << report.error().message;
    return report.value_or(VerifyReport{});
  }

  TempDir dir_;
  MemoryAuditStore store_;
};

TEST(AuditFormatTest, CanonicalEntryHasFixedKeysAndEscapes) {
  AuditEntry e = Entry("alice", "entity.update", "urn:ngsi-ld:Room:1");
  e.seq = 7;
  e.time = 1700000000000;
  e.department = "城管";
  e.request_id = "r-1";
  e.detail = "say \"hi\"\n\\";
  e.hash = "ignored";
  const std::string expected =
      R"({"seq":7,"time":1700000000000,"actor":"alice","actor_kind":"user",)"
      R"("department":"城管","client_address":"10.0.0.1","action":"entity.update",)"
      R"("target":"urn:ngsi-ld:Room:1","outcome":"204","request_id":"r-1",)"
      R"("detail":"say \"hi\"\u000a\\"})";
  EXPECT_EQ(CanonicalEntry(e), expected);
  // sha256("0" * 64 + expected), computed independently with Python's hashlib.
  EXPECT_EQ(ChainHash(kGenesisHash, e),
            "c40804ffaf0ec49cfa3a02bdf778625d6ee6f92b60881b698b483b96d5884934");
  AuditEntry changed = e;
  changed.outcome = "500";
  EXPECT_NE(ChainHash(kGenesisHash, changed), ChainHash(kGenesisHash, e));
  EXPECT_NE(ChainHash(std::string(64, '1'), e), ChainHash(kGenesisHash, e));
}

TEST_F(AuditTest, KeyIsCreatedPrivateAndReloaded) {
  const auto file = dir_.path() / kAuditKeyFile;
  auto created = SigningKey::LoadOrCreate(file);
  ASSERT_TRUE(created) << created.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(std::filesystem::exists(file.string() + ".tmp"));
  auto loaded = SigningKey::Load(file);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->PublicKeyHex(), created->PublicKeyHex());
  EXPECT_EQ(created->PublicKeyHex().size(), 64u);
  auto again = SigningKey::LoadOrCreate(file);
  EXPECT_EQ(again->PublicKeyHex(), created->PublicKeyHex());
}

TEST_F(AuditTest, SignaturesVerifyOnlyForTheSameMessageAndKey) {
  SigningKey key = Key();
  const std::string sig = key.Sign("message");
  EXPECT_EQ(sig.size(), 128u);
  EXPECT_TRUE(key.Verify("message", sig));
  EXPECT_FALSE(key.Verify("messagE", sig));
  EXPECT_FALSE(key.Verify("message", "zz"));
  std::string flipped = sig;
  flipped[0] = flipped[0] == '0' ? '1' : '0';
  EXPECT_FALSE(key.Verify("message", flipped));
  auto other = SigningKey::LoadOrCreate(dir_.path() / "other.key");
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->Verify("message", sig));
}

TEST_F(AuditTest, MissingOrMalformedKeyIsAnError) {
  auto missing = SigningKey::Load(dir_.path() / "none.key");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  std::ofstream(dir_.path() / "bad.key") << "not hex\n";
  auto bad = SigningKey::Load(dir_.path() / "bad.key");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInternal);
  EXPECT_FALSE(SigningKey::LoadOrCreate(dir_.path() / "bad.key"));  // never overwritten
}

TEST_F(AuditTest, EntriesAreChainedFromTheGenesisHash) {
  {
    AuditLog log(store_, Key());
    ASSERT_TRUE(log.Open());
    AuditEntry fixed_time = Entry("bob");
    fixed_time.time = 42;
    fixed_time.seq = 99;  // overwritten
    log.Record(Entry("alice"));
    log.Record(fixed_time);
    log.Flush();
    const auto entries = store_.Entries();
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].seq, 1);
    EXPECT_EQ(entries[0].prev_hash, kGenesisHash);
    EXPECT_GT(entries[0].time, 0);
    EXPECT_EQ(entries[0].hash, ChainHash(kGenesisHash, entries[0]));
    EXPECT_EQ(entries[1].seq, 2);
    EXPECT_EQ(entries[1].time, 42);
    EXPECT_EQ(entries[1].actor, "bob");
    EXPECT_EQ(entries[1].prev_hash, entries[0].hash);
  }
  EXPECT_TRUE(Verify().ok);
}

TEST_F(AuditTest, ChainContinuesAcrossReopen) {
  Fill(3, 1000);
  {
    AuditLog log(store_, Key());
    ASSERT_TRUE(log.Open());
    log.Record(Entry("carol"));
    log.Flush();
  }
  const auto entries = store_.Entries();
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[3].seq, 4);
  EXPECT_EQ(entries[3].prev_hash, entries[2].hash);
  const VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.entries, 4);
  EXPECT_EQ(report.checkpoints, 2);  // one at each shutdown
}

TEST_F(AuditTest, ConcurrentRecordsAreGroupCommittedDensely) {
  constexpr int kThreads = 6;
  constexpr int kPerThread = 300;
  AuditLog log(store_, Key());
  ASSERT_TRUE(log.Open());
  store_.CloseGate();
  log.Record(Entry("first"));
  store_.WaitInAppend();  // the first group is being written; the rest must queue up
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < kPerThread; ++i) log.Record(Entry("t" + std::to_string(t)));
    });
  }
  for (auto& th : threads) th.join();
  store_.OpenGate();
  log.Flush();
  const auto entries = store_.Entries();
  ASSERT_EQ(entries.size(), 1u + kThreads * kPerThread);
  for (size_t i = 0; i < entries.size(); ++i) ASSERT_EQ(entries[i].seq, int64_t(i) + 1);
  EXPECT_EQ(store_.Appends(), 2);  // the first entry, then everything queued meanwhile
  EXPECT_EQ(log.Dropped(), 0u);
  const VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
}

// The group delay itself cannot be observed without waiting for it; these two tests check
// what ends it early (a full group, Flush, shutdown), each of which would otherwise hang
// for the hour-long delay.
TEST_F(AuditTest, AFullGroupIsWrittenWithoutWaitingForTheDelay) {
  AuditLog log(store_, Key(), {.group_delay = std::chrono::hours(1), .group_entries = 4});
  ASSERT_TRUE(log.Open());
  store_.CloseGate();
  log.Record(Entry("u0"));
  std::thread flusher([&log] { log.Flush(); });  // sends u0 on without the delay
  store_.WaitInAppend();  // u0 is being written; a full group queues behind it
  for (int i = 1; i < 5; ++i) log.Record(Entry("u" + std::to_string(i)));
  store_.OpenGate();
  flusher.join();
  ASSERT_TRUE(store_.WaitForEntries(5)) << "a full group waited for the delay";
  EXPECT_LE(store_.Appends(), 2);  // u0 alone, then the full group
  EXPECT_EQ(store_.Entries().back().seq, 5);
}

TEST_F(AuditTest, FlushAndShutdownCutTheGroupDelayShort) {
  auto log = std::make_unique<AuditLog>(store_, Key(),
                                        AuditLogOptions{.group_delay = std::chrono::hours(1)});
  ASSERT_TRUE(log->Open());
  log->Record(Entry("a"));
  log->Record(Entry("b"));
  std::promise<void> flushed;
  std::thread flusher([&] {
    log->Flush();
    flushed.set_value();
  });
  const auto status = flushed.get_future().wait_for(std::chrono::seconds(60));
  EXPECT_EQ(status, std::future_status::ready) << "Flush waited for the group delay";
  if (status != std::future_status::ready) log.reset();  // stopping releases the flusher
  flusher.join();
  EXPECT_EQ(store_.Entries().size(), 2u);
  EXPECT_EQ(store_.Appends(), 1);
  if (!log) return;
  log->Record(Entry("c"));
  log.reset();  // an hour-long delay must not hold up shutdown either
  EXPECT_EQ(store_.Entries().size(), 3u);
}

AuditEntry DeviceEntry(std::string client) {
  AuditEntry e = Entry("gauge-17", "PATCH /v2/entities/{entityId}/attrs", "/v2/entities/G/attrs");
  e.actor_kind = "device";
  e.client_address = std::move(client);
  return e;
}

// A device's requests become one chained entry per address, on Flush (an auditor's read)
// or at shutdown, whatever is left of the window.
TEST_F(AuditTest, DeviceRequestsAreTalliedIntoOneEntryPerAddress) {
  auto log = std::make_unique<AuditLog>(store_, Key(),
                                        AuditLogOptions{.device_window = std::chrono::hours(1)});
  ASSERT_TRUE(log->Open());
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(log->Count(DeviceEntry("10.0.0.9:5000")));
  log->Count(DeviceEntry("10.0.0.9:5001"));
  log->Record(Entry("li.wei"));  // others are recorded one by one, as before
  log->Flush();
  auto entries = store_.Entries();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].actor, "li.wei") << "the windows close on Flush, after it was queued";
  EXPECT_EQ(entries[1].client_address, "10.0.0.9:5000");
  EXPECT_NE(entries[1].detail.find(R"("requests":100)"), std::string::npos) << entries[1].detail;
  EXPECT_NE(entries[2].detail.find(R"("requests":1,)"), std::string::npos) << entries[2].detail;
  log->Count(DeviceEntry("10.0.0.9:5000"));
  log.reset();  // shutdown closes the window that is open
  EXPECT_EQ(store_.Entries().size(), 4u);
  EXPECT_TRUE(Verify().ok);
}

// Nothing else happening: the window's end alone makes the thread write the entry.
TEST_F(AuditTest, ADeviceWindowIsWrittenWhenItEnds) {
  AuditLog log(store_, Key(), {.device_window = std::chrono::seconds(1)});
  ASSERT_TRUE(log.Open());
  log.Count(DeviceEntry("10.0.0.9:5000"));
  log.Count(DeviceEntry("10.0.0.9:5000"));
  ASSERT_TRUE(store_.WaitForEntries(1)) << "the window was never closed";
  EXPECT_NE(store_.Entries()[0].detail.find(R"("requests":2,)"), std::string::npos);
}

TEST_F(AuditTest, WithoutADeviceWindowEveryRequestHasItsEntry) {
  AuditLog log(store_, Key(), {.device_window = std::chrono::seconds(0)});
  ASSERT_TRUE(log.Open());
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(log.Count(DeviceEntry("10.0.0.9:5000")));
  log.Flush();
  EXPECT_EQ(store_.Entries().size(), 3u);
}

TEST_F(AuditTest, CheckpointsAreSignedEveryNEntriesAndAtShutdown) {
  Fill(25, 10);
  const auto checkpoints = store_.CheckpointList();
  ASSERT_EQ(checkpoints.size(), 3u);
  const auto entries = store_.Entries();
  const int64_t expected_seq[] = {10, 20, 25};
  const SigningKey key = Key();
  for (size_t i = 0; i < checkpoints.size(); ++i) {
    const AuditCheckpoint& cp = checkpoints[i];
    EXPECT_EQ(cp.seq, expected_seq[i]);
    EXPECT_EQ(cp.hash, entries[cp.seq - 1].hash);
    EXPECT_GT(cp.time, 0);
    EXPECT_TRUE(key.Verify(CheckpointMessage(cp.seq, cp.hash, cp.time), cp.signature));
  }
}

TEST_F(AuditTest, CheckpointIntervalSignsNewEntries) {
  AuditLog log(store_, Key(), {.checkpoint_interval = std::chrono::seconds(0)});
  ASSERT_TRUE(log.Open());
  log.Record(Entry("a"));
  log.Flush();
  ASSERT_EQ(store_.CheckpointList().size(), 1u);
  EXPECT_EQ(store_.CheckpointList()[0].seq, 1);
}

TEST_F(AuditTest, ForcedCheckpointSignsOnlyNewEntries) {
  AuditLog log(store_, Key());
  ASSERT_TRUE(log.Open());
  EXPECT_TRUE(log.Checkpoint());  // empty log: nothing to sign
  EXPECT_TRUE(store_.CheckpointList().empty());
  log.Record(Entry("a"));
  log.Record(Entry("b"));
  ASSERT_TRUE(log.Checkpoint());  // writes the queued entries too
  ASSERT_EQ(store_.CheckpointList().size(), 1u);
  EXPECT_EQ(store_.CheckpointList()[0].seq, 2);
  EXPECT_EQ(store_.Entries().size(), 2u);
  ASSERT_TRUE(log.Checkpoint());
  EXPECT_EQ(store_.CheckpointList().size(), 1u);
}

TEST_F(AuditTest, FailedWritesAreRetriedWithTheNextGroup) {
  AuditLog log(store_, Key());
  ASSERT_TRUE(log.Open());
  store_.FailNextAppends(1);
  log.Record(Entry("a"));
  log.Flush();  // returns after the failed attempt
  log.Record(Entry("b"));
  log.Flush();
  const auto entries = store_.Entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].actor, "a");
  EXPECT_EQ(entries[1].seq, 2);
  EXPECT_EQ(entries[1].prev_hash, entries[0].hash);
  store_.FailNextAppends(1000000);  // every write fails until reset
  log.Record(Entry("c"));
  EXPECT_FALSE(log.Checkpoint());  // the store's error is reported
  store_.FailNextAppends(0);
  EXPECT_TRUE(log.Checkpoint());
  EXPECT_EQ(store_.Entries().size(), 3u);
  ASSERT_EQ(store_.CheckpointList().size(), 1u);
  EXPECT_EQ(store_.CheckpointList()[0].seq, 3);
}

TEST_F(AuditTest, RecordsOverTheQueueLimitAreDropped) {
  AuditLog log(store_, Key(), {.max_queue = 2});
  ASSERT_TRUE(log.Open());
  store_.CloseGate();
  log.Record(Entry("a"));
  store_.WaitInAppend();
  log.Record(Entry("b"));
  log.Record(Entry("c"));
  log.Record(Entry("dropped"));
  EXPECT_EQ(log.Dropped(), 1u);
  store_.OpenGate();
  log.Flush();
  const auto entries = store_.Entries();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[2].actor, "c");
}

TEST_F(AuditTest, OpenFailsOnASecondCall) {
  AuditLog log(store_, Key());
  ASSERT_TRUE(log.Open());
  EXPECT_FALSE(log.Open());
}

TEST_F(AuditTest, IntactLogVerifies) {
  Fill(20, 5);
  const VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.entries, 20);
  EXPECT_EQ(report.checkpoints, 4);
  EXPECT_EQ(report.first_bad_seq, 0);
  EXPECT_TRUE(report.problem.empty());
}

TEST_F(AuditTest, EmptyLogVerifies) {
  const VerifyReport report = Verify();
  EXPECT_TRUE(report.ok);
  EXPECT_EQ(report.entries, 0);
}

TEST_F(AuditTest, ModifiedEntryIsCaught) {
  Fill(20, 5);
  store_.entries[6].detail = "nothing happened";
  const VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 7);
  EXPECT_EQ(report.problem, "entry 7: hash does not match its content");
  EXPECT_EQ(report.entries, 20);
}

TEST_F(AuditTest, ModifiedAndRehashedEntryBreaksTheNextLink) {
  Fill(20, 5);
  AuditEntry& e = store_.entries[6];
  e.actor = "mallory";
  e.hash = ChainHash(e.prev_hash, e);
  const VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 8);
  EXPECT_EQ(report.problem.rfind("entry 8: prev_hash is not the hash of entry 7", 0), 0u)
      << report.problem;
}

TEST_F(AuditTest, RewrittenChainIsCaughtByTheNextCheckpoint) {
  Fill(20, 5);
  store_.entries[6].actor = "mallory";
  for (size_t i = 6; i < store_.entries.size(); ++i) {
    AuditEntry& e = store_.entries[i];
    e.prev_hash = store_.entries[i - 1].hash;
    e.hash = ChainHash(e.prev_hash, e);
  }
  const VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 10);
  EXPECT_EQ(report.problem.rfind("checkpoint at entry 10: hash differs", 0), 0u) << report.problem;
}

TEST_F(AuditTest, DeletedEntryIsCaught) {
  Fill(20, 5);
  store_.entries.erase(store_.entries.begin() + 7);  // seq 8
  const VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 8);
  EXPECT_EQ(report.problem, "entry 8 missing (chain jumps from 7 to 9)");
  EXPECT_EQ(report.entries, 19);
}

TEST_F(AuditTest, DeletedRangeAndDeletedFirstEntryAreCaught) {
  Fill(20, 5);
  store_.entries.erase(store_.entries.begin() + 7, store_.entries.begin() + 9);
  EXPECT_EQ(Verify().problem, "entries 8 to 9 missing (chain jumps from 7 to 10)");
  store_.entries.erase(store_.entries.begin());
  const VerifyReport report = Verify();
  EXPECT_EQ(report.first_bad_seq, 1);
  EXPECT_EQ(report.problem, "entry 1 missing (the log starts at entry 2)");
}

TEST_F(AuditTest, InsertedEntryIsCaught) {
  Fill(20, 5);
  // A forged entry 8 that links correctly to 7; the later entries are renumbered.
  AuditEntry forged = Entry("mallory");
  forged.seq = 8;
  forged.time = store_.entries[6].time;
  forged.prev_hash = store_.entries[6].hash;
  forged.hash = ChainHash(forged.prev_hash, forged);
  for (size_t i = 7; i < store_.entries.size(); ++i) ++store_.entries[i].seq;
  store_.entries.insert(store_.entries.begin() + 7, forged);
  const VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 9);
  EXPECT_EQ(report.problem, "entry 9: hash does not match its content");
}

TEST_F(AuditTest, DuplicatedSeqIsCaught) {
  Fill(20, 5);
  store_.entries.insert(store_.entries.begin() + 8, store_.entries[7]);
  const VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 8);
  EXPECT_EQ(report.problem, "entry 8 out of order (after entry 8)");
}

TEST_F(AuditTest, ReorderedEntriesAreCaught) {
  Fill(20, 5);
  // Swap the contents of entries 11 and 12 but keep the seq column in order.
  std::swap(store_.entries[10], store_.entries[11]);
  std::swap(store_.entries[10].seq, store_.entries[11].seq);
  const VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 11);
  EXPECT_EQ(report.problem, "entry 11: hash does not match its content");
}

TEST_F(AuditTest, TruncationBehindACheckpointIsCaught) {
  Fill(20, 5);
  store_.entries.resize(17);
  const VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 18);
  EXPECT_EQ(report.problem,
            "checkpoint at entry 20 points past the end of the log (last entry 17): truncated");
  store_.entries.clear();
  EXPECT_EQ(Verify().problem,
            "checkpoint at entry 20 points past the end of the log (the log is empty): truncated");
}

TEST_F(AuditTest, ForgedCheckpointIsCaught) {
  Fill(20, 5);
  store_.checkpoints[1].time += 1;  // signature no longer matches
  VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 10);
  EXPECT_EQ(report.problem.rfind("checkpoint at entry 10: bad signature", 0), 0u) << report.problem;

  // A checkpoint signed by another key, e.g. to hide a rewritten chain.
  store_.checkpoints[1].time -= 1;
  auto other = SigningKey::LoadOrCreate(dir_.path() / "other.key");
  ASSERT_TRUE(other);
  AuditCheckpoint& cp = store_.checkpoints[2];
  cp.signature = other->Sign(CheckpointMessage(cp.seq, cp.hash, cp.time));
  report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 15);
}

std::vector<AuditCheckpoint> Checkpoints(std::initializer_list<std::pair<int64_t, TimeMs>> at) {
  std::vector<AuditCheckpoint> out;
  for (auto [seq, time] : at) out.push_back({seq, "h" + std::to_string(seq), time, "sig"});
  return out;
}

std::vector<int64_t> Ends(const std::vector<AuditCheckpoint>& plan) {
  std::vector<int64_t> out;
  for (const AuditCheckpoint& cp : plan) out.push_back(cp.seq);
  return out;
}

TEST(ArchivePlanTest, EndsAtTheNewestCheckpointBeforeTheCutoffInFilesCutAtCheckpoints) {
  const auto cps = Checkpoints({{10, 100}, {20, 200}, {30, 300}, {40, 400}, {50, 500}});
  EXPECT_EQ(Ends(ArchivePlan(cps, 1, 60, 350, 1000)), (std::vector<int64_t>{30}));
  EXPECT_EQ(Ends(ArchivePlan(cps, 1, 60, 350, 20)), (std::vector<int64_t>{20, 30}));
  EXPECT_EQ(Ends(ArchivePlan(cps, 1, 60, 1000, 10)), (std::vector<int64_t>{10, 20, 30, 40, 50}));
  // No checkpoint within max_entries of the start: the file runs on to the next one.
  EXPECT_EQ(Ends(ArchivePlan(cps, 1, 60, 1000, 5)), (std::vector<int64_t>{10, 20, 30, 40, 50}));
  EXPECT_EQ(Ends(ArchivePlan(cps, 1, 60, 1000, 25)), (std::vector<int64_t>{20, 40, 50}));
  // Entries already archived: the plan starts at the oldest entry left, after the anchor.
  EXPECT_EQ(Ends(ArchivePlan(cps, 21, 60, 1000, 15)), (std::vector<int64_t>{30, 40, 50}));
}

TEST(ArchivePlanTest, NothingWhenNoCheckpointIsOldEnoughAndNeverTheNewestEntry) {
  const auto cps = Checkpoints({{10, 100}, {20, 200}});
  EXPECT_TRUE(ArchivePlan(cps, 1, 20, 100, 1000).empty());  // signed at the cutoff: kept
  EXPECT_TRUE(ArchivePlan({}, 1, 20, 1000, 1000).empty());
  // The checkpoint of the newest entry is old enough, but the newest entry always stays.
  EXPECT_EQ(Ends(ArchivePlan(cps, 1, 20, 1000, 1000)), (std::vector<int64_t>{10}));
  EXPECT_TRUE(ArchivePlan(cps, 11, 20, 1000, 1000).empty());
}

TEST_F(AuditTest, VerifyAcceptsALogPrunedBehindASignedAnchor) {
  Fill(25, 10);  // checkpoints at 10 and 20, and 25 at shutdown
  ASSERT_TRUE(store_.PruneThrough(10));
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.entries, 15);
  EXPECT_EQ(report.first_seq, 11);
  EXPECT_EQ(report.last_seq, 25);
  EXPECT_EQ(report.archived_through, 10);

  // The chain goes on from the newest entry after a restart.
  Fill(3, 10);
  report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.last_seq, 28);
  EXPECT_EQ(report.archived_through, 10);
}

TEST_F(AuditTest, VerifyRejectsAPrunedLogWithoutItsAnchor) {
  Fill(25, 10);
  ASSERT_TRUE(store_.PruneThrough(10));
  const AuditCheckpoint anchor = store_.checkpoints.front();
  ASSERT_EQ(anchor.seq, 10);

  store_.checkpoints.erase(store_.checkpoints.begin());  // the anchor deleted
  VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 1);
  EXPECT_NE(report.problem.find("entries 1 to 10 missing"), std::string::npos) << report.problem;

  AuditCheckpoint forged = anchor;  // an anchor for another chain, signed by the right key
  forged.hash = std::string(64, 'a');
  forged.signature = Key().Sign(CheckpointMessage(forged.seq, forged.hash, forged.time));
  store_.checkpoints.insert(store_.checkpoints.begin(), forged);
  report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 11);
  EXPECT_NE(report.problem.find("archive anchor"), std::string::npos) << report.problem;

  store_.checkpoints.front() = anchor;
  store_.checkpoints.front().signature = forged.signature;  // a signature that does not match
  report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 10);
  EXPECT_NE(report.problem.find("bad signature"), std::string::npos) << report.problem;
}

TEST_F(AuditTest, VerifyReportsStoreErrors) {
  class BrokenStore : public MemoryAuditStore {
   public:
    Status Scan(const std::function<Status(const AuditEntry&)>&) override {
      return Fail(Error::Internal("I/O error"));
    }
  } broken;
  auto report = VerifyAudit(broken, Key());
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().message, "I/O error");
}

}  // namespace
}  // namespace zc::identity
