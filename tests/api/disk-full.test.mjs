// A full disk: the data directory on a small tmpfs of its own (mounted for the test, so it
// needs root, as CI and the Debian check run; elsewhere the test is skipped and says why).
//   - a write that finds no space is answered 503 ServiceUnavailable in NGSI's format,
//     stores nothing and changes nothing; reads go on; /metrics counts the failed commits
//     and shows the audit entries waiting in memory;
//   - once the filesystem has room again, writes succeed without a restart and the waiting
//     audit entries are written; a little room is enough for a write, even when far more
//     history waits to be moved from the staging table;
//   - a start on a full disk refuses with a message that says what to do, and once there is
//     room, every acknowledged write is there (current state and history) and the audit
//     chain verifies; so does a first start (no administrator yet), whether SQLite's
//     shared-memory files or the bootstrap token file is the first thing it cannot write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Server, binary, eventually, metric, riverLevels } from './harness.mjs';

const SMALL = '8m';
const LARGE = '64m';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}${r.error ?? ''}` };
}

/** Mounts a tmpfs of `size` at a new directory; null (and why) when this host does not allow it. */
function mountSmallFs(size) {
  if (process.getuid?.() !== 0) return { why: 'needs root to mount a tmpfs' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zhicheng-full-'));
  const r = run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  if (!r.ok) {
    fs.rmdirSync(dir);
    return { why: `cannot mount a tmpfs here: ${r.out.trim()}` };
  }
  return { dir };
}

/** Fills the filesystem of `dir` with `file`, leaving about `leave` bytes free. */
function fill(dir, file, leave) {
  const st = fs.statfsSync(dir);
  const free = st.bavail * st.bsize;
  const size = Math.max(0, free - leave);
  const fd = fs.openSync(file, 'w');
  try {
    const block = Buffer.alloc(64 * 1024, 0x5a);
    let written = 0;
    while (written < size) {
      try {
        written += fs.writeSync(fd, block, 0, Math.min(block.length, size - written));
      } catch (err) {
        if (err.code === 'ENOSPC') break;
        throw err;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Runs `body(srv, dir)` with a server (not started) whose data directory is on a small
 * tmpfs of its own at `dir`, then closes the server and removes the filesystem; skips the
 * test when this host cannot mount one.
 */
async function onSmallFs(t, serverOptions, body) {
  const mount = mountSmallFs(SMALL);
  if (!mount.dir) { t.skip(mount.why); return; }
  const srv = new Server({ dataDir: path.join(mount.dir, 'data'), ...serverOptions });
  try {
    await body(srv, mount.dir);
  } finally {
    await srv.close();
    run('umount', [mount.dir]);
    fs.rmSync(mount.dir, { recursive: true, force: true });
  }
}

const HEADERS = { 'Fiware-Service': 'gaoming', 'Fiware-ServicePath': '/rivers' };

test('a full disk: writes answer 503 and change nothing, resume when there is room, and nothing acknowledged is lost', async (t) => {
  await onSmallFs(t, {}, async (srv, dir) => {
    const filler = path.join(dir, 'filler');
    await srv.start();
    const levels = riverLevels(200);
    let r = await srv.post('/v2/entities?options=keyValues', { id: 'Gauge-Xijiang', type: 'WaterLevelGauge', level: levels[0], n: 0, log: '' }, { headers: HEADERS });
    assert.equal(r.status, 201, r.text);
    const acked = [0];
    fill(dir, filler, 1024 * 1024);

    // Readings with a large log text until the disk is full.
    let failure;
    for (let n = 1; n < levels.length && !failure; n++) {
      const body = { level: levels[n], n, log: `${n}:`.padEnd(100_000, 'x') };
      r = await srv.patch('/v2/entities/Gauge-Xijiang/attrs?options=keyValues', body, { headers: HEADERS });
      if (r.status === 204) acked.push(n);
      else failure = r;
    }
    assert.ok(failure, `the disk never filled (${acked.length} writes acknowledged)`);
    assert.equal(failure.status, 503, failure.text);
    assert.equal(failure.json?.error, 'ServiceUnavailable', failure.text);
    assert.match(failure.json.description, /^storage full: no space left for the data directory/);

    // Nothing of the failed write is visible; reads go on.
    r = await srv.get('/v2/entities/Gauge-Xijiang?options=keyValues&attrs=n,level', { headers: HEADERS });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.n, acked.at(-1));
    assert.equal(r.json.level, levels[acked.at(-1)]);
    assert.ok(await metric(srv, 'zhicheng_writer_commit_failures_total') >= 1, 'failed commits are counted');
    // The audit entry of the failed write cannot be written either: it waits in memory.
    await eventually(async () => (await metric(srv, 'zhicheng_audit_waiting_entries')) >= 1, 10_000, 'audit entries waiting');

    // Room again (as when an operator grows the volume or removes other files): the next
    // write succeeds, without a restart.
    assert.ok(run('mount', ['-o', `remount,size=${LARGE}`, dir]).ok);
    const next = acked.at(-1) + 1;
    r = await srv.patch('/v2/entities/Gauge-Xijiang/attrs?options=keyValues', { level: levels[next], n: next }, { headers: HEADERS });
    assert.equal(r.status, 204, r.text);
    acked.push(next);
    // The audit log writes what waited at its next retry (once a second).
    await eventually(async () => (await metric(srv, 'zhicheng_audit_waiting_entries')) === 0, 10_000, 'audit entries written');
    assert.equal(await metric(srv, 'zhicheng_audit_dropped_total'), 0);
    await srv.kill9();

    // A start on a full disk refuses, and says what to do.
    fs.rmSync(filler);
    fill(dir, filler, 0);
    const refused = spawnSync(binary, ['serve', '--data', srv.dataDir, '--listen', '127.0.0.1:0'], { encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(refused.status, 0, `a start on a full disk: ${refused.stdout}${refused.stderr}`);
    assert.match(refused.stderr, /free space on its filesystem \(df -h /, refused.stderr);

    fs.rmSync(filler);
    await srv.start();
    r = await srv.get('/v2/entities/Gauge-Xijiang?options=keyValues&attrs=n,level', { headers: HEADERS });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.n, acked.at(-1), 'the last acknowledged write survived');
    assert.equal(r.json.level, levels[acked.at(-1)]);
    r = await srv.get('/ql/v2/entities/Gauge-Xijiang/attrs/n?limit=1000', { headers: HEADERS });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.values, acked, 'the history holds every acknowledged value and nothing else');
    const { code } = await srv.stop();
    assert.equal(code, 0);
    const verify = run(binary, ['audit', 'verify', '--data', srv.dataDir]);
    assert.ok(verify.ok, `the audit chain verifies after the full disk: ${verify.out}`);
  });
});

test('after a full disk, writes resume with room for themselves, not for everything waiting to be moved', async (t) => {
  await onSmallFs(t, {}, async (srv, dir) => {
    await srv.start();
    const levels = riverLevels(200);
    let r = await srv.post('/v2/entities?options=keyValues', { id: 'Gauge-Beijiang', type: 'WaterLevelGauge', level: levels[0], n: 0, log: '' }, { headers: HEADERS });
    assert.equal(r.status, 201, r.text);
    const acked = [0];
    // One request after another, so the writer is never idle long enough to move the rows
    // of these small commits into the history table: they wait, staged, until the disk is full.
    let failure;
    for (let n = 1; n < levels.length && !failure; n++) {
      r = await srv.patch('/v2/entities/Gauge-Beijiang/attrs?options=keyValues', { level: levels[n], n, log: `${n}:`.padEnd(100_000, 'y') }, { headers: HEADERS });
      if (r.status === 204) acked.push(n);
      else failure = r;
    }
    assert.equal(failure?.status, 503, failure?.text ?? 'the disk never filled');
    const staged = await metric(srv, 'zhicheng_store_staged_history_rows');
    assert.ok(staged >= 20, `${staged} rows of 100 kB wait to be moved: more than the room given below`);

    // 1 MiB more: room for a small write, not for moving the staged rows.
    assert.ok(run('mount', ['-o', 'remount,size=9m', dir]).ok);
    const next = acked.at(-1) + 1;
    r = await srv.patch('/v2/entities/Gauge-Beijiang/attrs?options=keyValues', { level: levels[next], n: next }, { headers: HEADERS });
    assert.equal(r.status, 204, r.text);
    acked.push(next);

    // With room for them, the idle writer moves them; the history holds every acknowledged value.
    assert.ok(run('mount', ['-o', `remount,size=${LARGE}`, dir]).ok);
    await eventually(async () => (await metric(srv, 'zhicheng_store_staged_history_rows')) === 0, 10_000, 'staged rows moved');
    r = await srv.get('/ql/v2/entities/Gauge-Beijiang/attrs/n?limit=1000', { headers: HEADERS });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.values, acked);
  });
});

/** Starts `binary` on `dataDir` on a full disk: it must refuse and say what to do. */
function assertRefusedWithAdvice(dataDir, expected) {
  const refused = spawnSync(binary, ['serve', '--data', dataDir, '--listen', '127.0.0.1:0'], { encoding: 'utf8', timeout: 30_000 });
  assert.notEqual(refused.status, 0, `a start on a full disk: ${refused.stdout}${refused.stderr}`);
  assert.match(refused.stderr, expected, refused.stderr);
  assert.match(refused.stderr, /storage full: .*free space on its filesystem \(df -h /, refused.stderr);
  assert.deepEqual(fs.readdirSync(dataDir).filter((f) => f.endsWith('.tmp')), [], 'no partial secret file is left');
}

test('a start on a full disk without an administrator refuses with the same advice, whatever it fails to write first', async (t) => {
  await onSmallFs(t, { adminToken: null }, async (srv, dir) => {
    const filler = path.join(dir, 'filler');
    // After a clean stop SQLite has removed its shared-memory files, and cannot create them.
    await srv.start(); // no administrator: every start writes a new one-time bootstrap token
    assert.equal((await srv.stop()).code, 0);
    fill(dir, filler, 0);
    assertRefusedWithAdvice(srv.dataDir, /cannot open identity and audit in /);

    // After a crash they are still there, and the first thing that fails is the token file.
    fs.rmSync(filler);
    await srv.start();
    await srv.kill9();
    fill(dir, filler, 0);
    assertRefusedWithAdvice(srv.dataDir, /first start: storage full: /);

    fs.rmSync(filler);
    await srv.start();
    const token = fs.readFileSync(path.join(srv.dataDir, 'bootstrap-token'), 'utf8').trim();
    const r = await srv.post('/api/identity/bootstrap', { login: 'admin', password: 'correct horse battery staple 42', displayName: 'Admin' }, { auth: token });
    assert.equal(r.status, 201, r.text);
  });
});
