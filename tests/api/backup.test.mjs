// Backup and restore (docs/operations.md): `zhicheng backup` copies a data directory while
// the server goes on writing; `zhicheng restore` checks a backup whole and puts it into a new
// directory, from which a server starts with everything acknowledged before the backup
// began: entities, history, users, and an audit log whose chain still verifies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { Server, startServer, binary, beijingAirQuality } from './harness.mjs';

const PASSWORD = 'Kx7!mQ2#vLp9wR$t';

/** Runs the binary; resolves with {code, stdout, stderr} whatever the exit code. */
function run(args) {
  return new Promise((resolve) => {
    execFile(binary, args, { timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

function scratch() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'zhicheng-backup-'));
}

async function historyOf(srv, id) {
  const r = await srv.get(`/ql/v2/entities/${id}/attrs/level?limit=10000`);
  assert.equal(r.status, 200, r.text);
  return r.json.values;
}

test('an online backup, taken while writes go on, restores everything acknowledged before it', async () => {
  const srv = await startServer();
  const dir = scratch();
  let restored;
  try {
    const aq = beijingAirQuality(24);
    let r = await srv.post('/v2/op/update', { actionType: 'append', entities: aq });
    assert.equal(r.status, 204, r.text);
    r = await srv.post('/api/identity/users', { login: 'zhiban2', displayName: '值班员', roles: ['operator'],
      tenants: [{ tenant: '', path: '/', write: false }], password: PASSWORD });
    assert.equal(r.status, 201, r.text);
    for (const id of ['Gauge-1', 'Gauge-2']) {
      r = await srv.post('/v2/entities?options=keyValues', { id, type: 'WaterLevelGauge', level: 1 });
      assert.equal(r.status, 201, r.text);
    }
    for (let i = 2; i <= 10; i++) {
      r = await srv.patch('/v2/entities/Gauge-1/attrs?options=keyValues', { level: i });
      assert.equal(r.status, 204, r.text);
    }
    // A writer that keeps going through the whole backup, one acknowledged PATCH at a time.
    let acked = 1;
    let stop = false;
    const writer = (async () => {
      for (let i = 2; !stop; i++) {
        const res = await srv.patch('/v2/entities/Gauge-2/attrs?options=keyValues', { level: i });
        assert.equal(res.status, 204, res.text);
        acked = i;
      }
    })();
    while (acked < 20) await new Promise((resolve) => setImmediate(resolve));
    const ackedBefore = acked;
    const backupDir = path.join(dir, 'backup');
    const backup = await run(['backup', '--data', srv.dataDir, '--to', backupDir]);
    const ackedDuring = acked;
    stop = true;
    await writer;
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stdout, /zhicheng\.db 100%/);
    assert.match(backup.stdout, /backup complete/);
    assert.ok(ackedDuring > ackedBefore, 'the server went on acknowledging writes during the backup');

    const manifest = JSON.parse(fs.readFileSync(path.join(backupDir, 'zhicheng-backup.json'), 'utf8'));
    assert.deepEqual(manifest.files.map((f) => f.path).sort(), ['audit.db', 'audit.key', 'identity.db', 'zhicheng.db']);
    assert.equal(fs.statSync(path.join(backupDir, 'audit.key')).mode & 0o777, 0o600, 'the audit key stays private');
    for (const name of fs.readdirSync(backupDir)) {
      assert.equal(fs.statSync(path.join(backupDir, name)).mode & 0o077, 0, `${name} of the backup is private`);
    }

    restored = path.join(dir, 'restored');
    const restore = await run(['restore', '--from', backupDir, '--data', restored]);
    assert.equal(restore.code, 0, restore.stderr);
    const verify = await run(['audit', 'verify', '--data', restored]);
    assert.equal(verify.code, 0, `${verify.stdout}${verify.stderr}`);
    assert.match(verify.stdout, /chain intact/);

    const copy = new Server({ dataDir: restored, adminToken: srv.adminToken });
    await copy.start();
    try {
      const listing = '/v2/entities?type=AirQualityObserved&limit=100&orderBy=id&options=keyValues';
      assert.deepEqual((await copy.get(listing)).json, (await srv.get(listing)).json);
      assert.deepEqual(await historyOf(copy, 'Gauge-1'), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      // Gauge-2 as of one moment: at least what was acknowledged before the backup began,
      // and its current value is the last of its history (one consistent snapshot).
      const level = (await copy.get('/v2/entities/Gauge-2/attrs/level/value', { headers: { Accept: 'application/json' } })).json;
      // (The writer has at most one PATCH in flight: committed, perhaps not yet answered.)
      assert.ok(level >= ackedBefore && level <= ackedDuring + 1, `Gauge-2 at ${level}, acknowledged ${ackedBefore}..${ackedDuring}`);
      assert.deepEqual(await historyOf(copy, 'Gauge-2'), Array.from({ length: level }, (_, i) => i + 1));
      const login = await copy.request('POST', '/oauth/token', { auth: null,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'password', username: 'zhiban2', password: PASSWORD }).toString() });
      assert.equal(login.status, 200, `the restored user logs in: ${login.text}`);
      // The restored server writes on.
      r = await copy.patch('/v2/entities/Gauge-1/attrs?options=keyValues', { level: 11 });
      assert.equal(r.status, 204, r.text);
    } finally {
      await copy.close();
    }
    r = await srv.patch('/v2/entities/Gauge-2/attrs?options=keyValues', { level: 0 });
    assert.equal(r.status, 204, 'the original server is unaffected');
  } finally {
    await srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('backup and restore refuse what they cannot do whole, and write nothing', async () => {
  const srv = await startServer();
  const dir = scratch();
  try {
    let r = await srv.post('/v2/entities?options=keyValues', { id: 'Gauge-1', type: 'WaterLevelGauge', level: 1 });
    assert.equal(r.status, 201, r.text);
    assert.equal((await srv.stop()).code, 0);
    const backupDir = path.join(dir, 'backup');
    const offline = await run(['backup', '--data', srv.dataDir, '--to', backupDir]);
    assert.equal(offline.code, 0, `a stopped server's directory backs up too: ${offline.stderr}`);

    const occupied = path.join(dir, 'occupied');
    fs.mkdirSync(occupied);
    fs.writeFileSync(path.join(occupied, 'keep.txt'), 'mine');
    let res = await run(['backup', '--data', srv.dataDir, '--to', occupied]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /exists and is not empty/);
    assert.deepEqual(fs.readdirSync(occupied), ['keep.txt']);

    res = await run(['backup', '--data', srv.dataDir, '--to', path.join(srv.dataDir, 'inside')]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /inside the data directory/);
    assert.equal(fs.existsSync(path.join(srv.dataDir, 'inside')), false);

    res = await run(['backup', '--data', path.join(dir, 'nowhere'), '--to', path.join(dir, 'b2')]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /no data directory/);
    assert.equal(fs.existsSync(path.join(dir, 'b2')), false);

    res = await run(['restore', '--from', backupDir, '--data', occupied]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /exists and is not empty/);
    assert.deepEqual(fs.readdirSync(occupied), ['keep.txt']);

    res = await run(['restore', '--from', dir, '--data', path.join(dir, 'r1')]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /not a Zhicheng backup/);

    // One changed byte anywhere is caught before anything is written.
    const damaged = path.join(dir, 'damaged');
    fs.cpSync(backupDir, damaged, { recursive: true });
    const db = path.join(damaged, 'identity.db');
    const bytes = fs.readFileSync(db);
    bytes[bytes.length - 100] ^= 0xff;
    fs.writeFileSync(db, bytes);
    res = await run(['restore', '--from', damaged, '--data', path.join(dir, 'r2')]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /identity\.db does not match its SHA-256/);
    assert.equal(fs.existsSync(path.join(dir, 'r2')), false);
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('.')), [], 'no staging directory left');

    // A manifest may not name a file outside the backup.
    const escaping = path.join(dir, 'escaping');
    fs.cpSync(backupDir, escaping, { recursive: true });
    const manifestFile = path.join(escaping, 'zhicheng-backup.json');
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
    manifest.files.push({ path: '../occupied/keep.txt', bytes: 4, sha256: '0'.repeat(64) });
    fs.writeFileSync(manifestFile, JSON.stringify(manifest));
    res = await run(['restore', '--from', escaping, '--data', path.join(dir, 'r3')]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /leaves the backup/);

    res = await run(['restore', '--from', backupDir, '--data', path.join(dir, 'r4')]);
    assert.equal(res.code, 0, res.stderr);
  } finally {
    await srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged database stops the start with what to do: restore the latest backup into a new directory', async () => {
  const srv = await startServer();
  try {
    const created = await srv.post('/v2/entities?options=keyValues', { id: 'Gauge-Damaged', type: 'WaterLevelGauge', level: 1 });
    assert.equal(created.status, 201, created.text);
    const { code } = await srv.stop();
    assert.equal(code, 0);
    const file = path.join(srv.dataDir, 'zhicheng.db');
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, 4096);  // the second page: the schema
    fs.closeSync(fd);
    const start = await run(['serve', '--data', srv.dataDir, '--listen', '127.0.0.1:0']);
    assert.equal(start.code, 1, start.stderr);
    assert.doesNotMatch(start.stdout, /listening on/);
    assert.match(start.stderr, /cannot open the store in .*: sqlite: .*(malformed|not a database).*; a database file is damaged: keep .* as it is, restore the latest backup into a new directory \(zhicheng restore --from BACKUP --data NEWDIR\)/);
  } finally {
    await srv.close();
  }
});
