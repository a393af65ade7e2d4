// Authentication, authorization and the hash-chained audit log, against the real binary:
// the role × route-family matrix (derived from the server's own role table), 401/403 answers
// that leak nothing, bad credentials, token expiry/revocation/disabling, login lockout and the
// RFC 6749 error shapes, tenant and service-path isolation (NGSI, QuantumLeap, subscriptions),
// the one-time bootstrap, rate limits per token and per address, the audit API and the offline
// `zhicheng audit verify` against tampering, and the offline `zhicheng admin` commands.
//
// Every server here has its own data directory. Nothing sleeps: time-based behaviour (token
// expiry, lockout end, rate refill) is polled with `eventually` against a deadline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Server, startServer, startReceiver, eventually, binary, parseJson } from './harness.mjs';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

// Satisfies the policy (≥ 12 chars, 4 classes) and contains none of the logins used here.
const PASSWORD = 'Kx7!mQ2#vLp9wR$t';
const WRONG_PASSWORD = 'Wrong-Passw0rd!!';
const ALL_TENANTS = [{ tenant: '*', path: '/', write: true }];
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };
const GAOMING = { 'Fiware-Service': 'gaoming' };
const GENESIS = '0'.repeat(64);

/** POST a form-encoded body (no bearer token unless opts.auth / opts.headers give one). */
function postForm(srv, target, params, opts = {}) {
  return srv.request('POST', target, {
    auth: null, ...opts, headers: { ...FORM, ...(opts.headers || {}) }, body: new URLSearchParams(params).toString(),
  });
}

/** The password grant; returns the raw response. */
function passwordGrant(srv, username, password, extra = {}) {
  return postForm(srv, '/oauth/token', { grant_type: 'password', username, password, ...extra });
}

/** Creates a user through the admin API (as the server's admin token). */
async function createUser(srv, login, { roles = [], tenants = ALL_TENANTS, password = PASSWORD, department } = {}) {
  const body = { login, displayName: `Test ${login}`, roles, tenants, password };
  if (department) body.department = department;
  const res = await srv.post('/api/identity/users', body);
  assert.equal(res.status, 201, `create user ${login}: ${res.text}`);
  return res.json;
}

/** A bearer token of `login` from /oauth/token (password grant). */
async function loginToken(srv, login, extra = {}) {
  const res = await passwordGrant(srv, login, PASSWORD, extra);
  assert.equal(res.status, 200, `login ${login}: ${res.text}`);
  assert.equal(res.json.token_type, 'Bearer');
  return res.json.access_token;
}

/** A user holding `roles` and a token of theirs. */
async function userWithToken(srv, login, roles, tenants = ALL_TENANTS) {
  await createUser(srv, login, { roles, tenants });
  return loginToken(srv, login);
}

/** 403 with {"error":"Forbidden"}. */
function assertForbidden(res, what) {
  assert.equal(res.status, 403, `${what}: expected 403, got ${res.status} ${res.text}`);
  assert.equal(res.json?.error, 'Forbidden', `${what}: ${res.text}`);
}

/** 401 with a Bearer challenge and {"error":"Unauthorized"}. */
function assertUnauthorized(res, what) {
  assert.equal(res.status, 401, `${what}: expected 401, got ${res.status} ${res.text}`);
  assert.match(res.headers.get('www-authenticate') || '', /^Bearer\b/, `${what}: WWW-Authenticate`);
  assert.equal(res.json?.error, 'Unauthorized', `${what}: ${res.text}`);
  assert.equal(typeof res.json?.description, 'string', `${what}: ${res.text}`);
}

/** An RFC 6749 §5.2 error answer. */
function assertOAuthError(res, status, error, what) {
  assert.equal(res.status, status, `${what}: ${res.text}`);
  assert.equal(res.json?.error, error, `${what}: ${res.text}`);
  assert.equal(typeof res.json?.error_description, 'string', `${what}: ${res.text}`);
  assert.equal(res.headers.get('cache-control'), 'no-store', `${what}: Cache-Control`);
}

/** 429 with Retry-After as an integer number of seconds ≥ 1 and an error JSON. */
function assertTooMany(res, what) {
  assert.equal(res.status, 429, `${what}: ${res.text}`);
  const retry = res.headers.get('retry-after');
  assert.match(retry || '', /^\d+$/, `${what}: Retry-After ${retry}`);
  assert.ok(Number(retry) >= 1, `${what}: Retry-After ${retry}`);
  assert.equal(res.json?.error, 'TooManyRequests', `${what}: ${res.text}`);
}

/**
 * Runs the binary with `args`; returns {status, stdout, stderr}. `input` goes to stdin from a
 * file, not a pipe: a command that refuses before reading stdin must not make this fail (EPIPE).
 */
function run(args, input = '') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zhicheng-stdin-'));
  const file = path.join(dir, 'stdin');
  fs.writeFileSync(file, input, { mode: 0o600 });
  const fd = fs.openSync(file, 'r');
  try {
    const r = spawnSync(binary, args, { stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8', timeout: 30_000 });
    if (r.error) throw r.error;
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function sqlite(dbFile, sql) {
  const r = spawnSync('sqlite3', [dbFile, sql], { encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `sqlite3 ${sql}: ${r.stderr}`);
  return r.stdout;
}

/** A copy of a (stopped) server's data directory, removed after the file's tests. */
const copies = [];
function copyDataDir(dir) {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'zhicheng-audit-copy-'));
  fs.cpSync(dir, copy, { recursive: true });
  copies.push(copy);
  return copy;
}

/** A request sent from a chosen local address (to be a second client for per-address limits). */
function requestFrom(srv, localAddress, method, target, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: srv.host, port: srv.port, method, path: target, headers, localAddress, agent: false });
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode, headers: new Headers(Object.entries(res.headers).map(([k, v]) => [k, String(v)])), text, json: parseJson(text) });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// The route families of the matrix: the permission each one needs (see the routes' permission
// declarations in src/api/**), one representative request, and the status it answers when
// allowed. The matrix itself comes from GET /api/identity/roles.
const SUBSCRIPTION = (url) => ({
  subject: { entities: [{ idPattern: '.*' }] },
  notification: { http: { url } },
});
const FAMILIES = [
  { name: 'NGSI read', perm: 'context.read', ok: 200, call: (s, t) => s.get('/v2/entities', { auth: t }) },
  { name: 'NGSI write', perm: 'context.write', ok: 201,
    call: (s, t, role) => s.post('/v2/entities', { id: `Probe-${role}`, type: 'Probe' }, { auth: t }) },
  { name: 'subscriptions read', perm: 'subscriptions.read', ok: 200, call: (s, t) => s.get('/v2/subscriptions', { auth: t }) },
  { name: 'subscriptions write', perm: 'subscriptions.write', ok: 201,
    call: (s, t, role) => s.post('/v2/subscriptions', SUBSCRIPTION(`http://127.0.0.1:9/${role}`), { auth: t }) },
  { name: 'QuantumLeap read', perm: 'context.read', ok: 200, call: (s, t) => s.get('/ql/v2/entities/Seed-1/attrs/level', { auth: t }) },
  { name: 'QuantumLeap delete', perm: 'history.delete', ok: 204,
    call: async (s, t, role) => {
      const made = await s.post('/v2/entities?options=keyValues', { id: `Kept-${role}`, type: 'Gauge', level: 1 });
      assert.equal(made.status, 201, made.text);
      return s.del(`/ql/v2/entities/Kept-${role}`, { auth: t });
    } },
  { name: 'identity read', perm: 'identity.read', ok: 200, call: (s, t) => s.get('/api/identity/users', { auth: t }) },
  { name: 'identity write', perm: 'identity.write', ok: 201,
    call: (s, t, role) => s.post('/api/identity/users',
      { login: `made-by-${role}`, displayName: 'made', roles: ['viewer'], password: PASSWORD }, { auth: t }) },
  { name: 'audit read', perm: 'audit.read', ok: 200, call: (s, t) => s.get('/api/audit', { auth: t }) },
  { name: 'ops', perm: 'ops.read', ok: 200, call: (s, t) => s.get('/metrics', { auth: t }) },
];
const ROLES = ['platform_admin', 'security_auditor', 'operator', 'department_handler', 'inspector',
  'data_steward', 'viewer', 'device', 'monitor'];

// ---------------------------------------------------------------------------------------------
// The shared server: default configuration, users of every role, a seed entity with history.
// ---------------------------------------------------------------------------------------------

let srv;
const tokens = {}; // role → a token of a user holding only that role
let roleTable;

before(async () => {
  srv = await startServer();
  const seed = await srv.post('/v2/entities?options=keyValues', { id: 'Seed-1', type: 'Gauge', level: 1.5 });
  assert.equal(seed.status, 201, seed.text);
  const roles = await srv.get('/api/identity/roles');
  assert.equal(roles.status, 200, roles.text);
  roleTable = roles.json;
  // Argon2id makes user creation and login the slow part: do the roles concurrently.
  await Promise.all(roleTable.map(async (r) => { tokens[r.name] = await userWithToken(srv, `u-${r.name}`, [r.name]); }));
});

after(async () => {
  await srv?.close();
  for (const c of copies) fs.rmSync(c, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// 1. Role × route family
// ---------------------------------------------------------------------------------------------

test('the role table lists every documented role, and /me reports each role\'s permissions', async () => {
  assert.deepEqual(roleTable.map((r) => r.name), ROLES);
  for (const r of roleTable) {
    const me = await srv.get('/api/identity/me', { auth: tokens[r.name] });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.subject, `u-${r.name}`);
    assert.deepEqual(me.json.roles, [r.name]);
    assert.deepEqual([...me.json.permissions].sort(), [...r.permissions].sort(), r.name);
  }
});

test('role × route family: allowed exactly where the role table grants the permission', async () => {
  // Every cell is checked before failing, so that the failure lists all wrong cells at once.
  const wrong = [];
  let cells = 0;
  for (const r of roleTable) {
    for (const f of FAMILIES) {
      const allowed = r.permissions.includes(f.perm);
      const res = await f.call(srv, tokens[r.name], r.name);
      cells++;
      const good = allowed ? res.status === f.ok : res.status === 403 && res.json?.error === 'Forbidden';
      if (!good) {
        wrong.push(`${r.name} × ${f.name} (${f.perm}): expected ${allowed ? f.ok : '403 Forbidden'}, got ${res.status} ${res.text}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
  // A denied write changed nothing: the probe entity of a role without context.write is absent.
  for (const r of roleTable) {
    const probe = await srv.get(`/v2/entities/Probe-${r.name}`);
    assert.equal(probe.status, r.permissions.includes('context.write') ? 200 : 404, `Probe-${r.name}`);
    const made = await srv.get(`/api/identity/users/made-by-${r.name}`);
    assert.equal(made.status, r.permissions.includes('identity.write') ? 200 : 404, `made-by-${r.name}`);
  }
  assert.equal(cells, ROLES.length * FAMILIES.length);
});

test('role table, hard-coded: separation of duties and ingest-only devices', async () => {
  // The security auditor reads the audit log and nothing else.
  assert.equal((await srv.get('/api/audit', { auth: tokens.security_auditor })).status, 200);
  assertForbidden(await srv.get('/v2/entities', { auth: tokens.security_auditor }), 'auditor GET /v2/entities');
  assertForbidden(await srv.get('/api/identity/users', { auth: tokens.security_auditor }), 'auditor GET users');
  // The platform admin manages everything except the audit log.
  assertForbidden(await srv.get('/api/audit', { auth: tokens.platform_admin }), 'platform_admin GET /api/audit');
  assertForbidden(await srv.get('/api/audit/export', { auth: tokens.platform_admin }), 'platform_admin export');
  assertForbidden(await srv.get('/api/audit'), 'first-start admin token GET /api/audit');
  assert.equal((await srv.get('/api/identity/users', { auth: tokens.platform_admin })).status, 200);
  // A device writes context data but cannot read it back.
  const wrote = await srv.post('/v2/entities', { id: 'Device-Reading-1', type: 'Reading' }, { auth: tokens.device });
  assert.equal(wrote.status, 201, wrote.text);
  assertForbidden(await srv.get('/v2/entities', { auth: tokens.device }), 'device GET /v2/entities');
  assertForbidden(await srv.get('/v2/entities/Device-Reading-1', { auth: tokens.device }), 'device GET its entity');
  // The monitor scrapes /metrics only.
  const metrics = await srv.get('/metrics', { auth: tokens.monitor });
  assert.equal(metrics.status, 200);
  assert.match(metrics.text, /zhicheng_http_requests_total/);
  assertForbidden(await srv.get('/v2/entities', { auth: tokens.monitor }), 'monitor GET /v2/entities');
  // A viewer reads but does not write.
  assert.equal((await srv.get('/v2/entities/Seed-1', { auth: tokens.viewer })).status, 200);
  assertForbidden(await srv.patch('/v2/entities/Seed-1/attrs', { level: { type: 'Number', value: 9 } }, { auth: tokens.viewer }),
    'viewer PATCH');
});

// ---------------------------------------------------------------------------------------------
// 2. 401 and 403 reveal nothing about existence
// ---------------------------------------------------------------------------------------------

test('unauthenticated /v2 requests get 401 with a Bearer challenge, whether the entity exists or not', async () => {
  const existing = await srv.get('/v2/entities/Seed-1', { auth: null });
  const missing = await srv.get('/v2/entities/No-Such-Entity', { auth: null });
  assertUnauthorized(existing, 'GET existing');
  assertUnauthorized(missing, 'GET missing');
  assert.deepEqual(existing.json, missing.json, 'same answer for existing and missing entities');
  assertUnauthorized(await srv.get('/v2/entities', { auth: null }), 'GET list');
  const create = await srv.post('/v2/entities', { id: 'Anon-1', type: 'Probe' }, { auth: null });
  assertUnauthorized(create, 'POST');
  assert.equal((await srv.get('/v2/entities/Anon-1')).status, 404, 'an unauthenticated write changed nothing');
  // NGSI errors raised before any handler still carry Fiware-Correlator (echoed if sent).
  const correlated = await srv.get('/v2/entities', { auth: null, headers: { 'Fiware-Correlator': 'corr-401' } });
  assert.equal(correlated.headers.get('fiware-correlator'), 'corr-401');
  assert.ok(existing.headers.get('fiware-correlator'), 'a generated correlator on a 401');
  // Public routes stay public.
  assert.equal((await srv.get('/healthz', { auth: null })).status, 200);
  // QuantumLeap's history too (its own error format, but the same 401).
  assertUnauthorized(await srv.get('/ql/v2/entities/Seed-1/attrs/level', { auth: null }), 'GET history');
});

test('a forbidden request gets the same 403 for an existing and a missing entity', async () => {
  const existing = await srv.get('/v2/entities/Seed-1', { auth: tokens.security_auditor });
  const missing = await srv.get('/v2/entities/No-Such-Entity', { auth: tokens.security_auditor });
  assertForbidden(existing, 'existing');
  assertForbidden(missing, 'missing');
  assert.deepEqual(existing.json, missing.json);
  const delExisting = await srv.del('/v2/entities/Seed-1', { auth: tokens.viewer });
  const delMissing = await srv.del('/v2/entities/No-Such-Entity', { auth: tokens.viewer });
  assertForbidden(delExisting, 'DELETE existing');
  assertForbidden(delMissing, 'DELETE missing');
  assert.deepEqual(delExisting.json, delMissing.json);
  assert.equal((await srv.get('/v2/entities/Seed-1')).status, 200, 'the forbidden delete deleted nothing');
});

// ---------------------------------------------------------------------------------------------
// 3. Bad credentials
// ---------------------------------------------------------------------------------------------

test('garbage tokens, malformed headers and the Basic scheme are 401 on /v2; X-Auth-Token works', async () => {
  assertUnauthorized(await srv.get('/v2/entities', { auth: 'zc_not-a-real-token-0123456789abcdef' }), 'unknown token');
  for (const authorization of ['Bearer', 'Bearer ', 'Bearer a b c', 'Bearer tok"en', 'Token abc', 'bearer!']) {
    const res = await srv.get('/v2/entities', { headers: { Authorization: authorization } });
    assertUnauthorized(res, `Authorization: ${authorization}`);
  }
  const basic = `Basic ${Buffer.from(`u-viewer:${PASSWORD}`).toString('base64')}`;
  assertUnauthorized(await srv.get('/v2/entities', { headers: { Authorization: basic } }), 'Basic scheme');
  // FIWARE's X-Auth-Token is the bearer token by another name.
  const viaX = await srv.get('/v2/entities/Seed-1', { headers: { 'X-Auth-Token': tokens.viewer } });
  assert.equal(viaX.status, 200, viaX.text);
  assert.equal(viaX.json.id, 'Seed-1');
  const xForbidden = await srv.get('/v2/entities', { headers: { 'X-Auth-Token': tokens.monitor } });
  assertForbidden(xForbidden, 'X-Auth-Token of a monitor');
  assertUnauthorized(await srv.get('/v2/entities', { headers: { 'X-Auth-Token': 'zc_unknown_token_abcdefghijklmnop' } }),
    'unknown X-Auth-Token');
  // Two different tokens in the two headers are refused rather than picking one.
  const both = await srv.get('/v2/entities', {
    headers: { Authorization: `Bearer ${tokens.monitor}`, 'X-Auth-Token': tokens.viewer },
  });
  assertUnauthorized(both, 'Authorization and X-Auth-Token disagree');
});

// ---------------------------------------------------------------------------------------------
// 4. Token lifetime: expiry, revocation, disabled users
// ---------------------------------------------------------------------------------------------

test('a token issued with ttlSeconds=1 works, then expires (401)', async () => {
  await createUser(srv, 'short-lived', { roles: ['viewer'] });
  const issued = await srv.post('/api/identity/tokens', { subject: 'short-lived', ttlSeconds: 1 });
  assert.equal(issued.status, 201, issued.text);
  assert.match(issued.json.token, /\S{20,}/);
  assert.ok(issued.json.expires - issued.json.issued <= 1000, issued.text);
  await eventually(async () => (await srv.get('/v2/entities/Seed-1', { auth: issued.json.token })).status === 401,
    10_000, 'the 1 s token to expire');
  assertUnauthorized(await srv.get('/v2/entities/Seed-1', { auth: issued.json.token }), 'expired token');
  // The password grant's expires_in follows token_ttl_seconds (8 h by default).
  const login = await passwordGrant(srv, 'short-lived', PASSWORD);
  assert.equal(login.status, 200, login.text);
  assert.ok(login.json.expires_in > 8 * 3600 - 60 && login.json.expires_in <= 8 * 3600, login.text);
});

test('revocation by id (DELETE /api/identity/tokens/{id}) and by text (POST /oauth/revoke) is immediate', async () => {
  await createUser(srv, 'revokee', { roles: ['viewer'] });
  const a = await srv.post('/api/identity/tokens', { subject: 'revokee' });
  const b = await srv.post('/api/identity/tokens', { subject: 'revokee' });
  assert.equal(a.status, 201, a.text);
  assert.equal(b.status, 201, b.text);
  assert.equal((await srv.get('/v2/entities', { auth: a.json.token })).status, 200);
  assert.equal((await srv.get('/v2/entities', { auth: b.json.token })).status, 200);

  const del = await srv.del(`/api/identity/tokens/${a.json.id}`);
  assert.equal(del.status, 204, del.text);
  assertUnauthorized(await srv.get('/v2/entities', { auth: a.json.token }), 'revoked by id');
  assert.equal((await srv.get('/v2/entities', { auth: b.json.token })).status, 200, 'the other token still works');
  const listed = await srv.get('/api/identity/tokens?subject=revokee');
  assert.equal(listed.json.find((t) => t.id === a.json.id)?.revoked, true, listed.text);
  assert.ok(!listed.text.includes(a.json.token), 'token listings never show the token text');

  const rev = await postForm(srv, '/oauth/revoke', { token: b.json.token });
  assert.equal(rev.status, 200, rev.text);
  assertUnauthorized(await srv.get('/v2/entities', { auth: b.json.token }), 'revoked by /oauth/revoke');
  assertOAuthError(await postForm(srv, '/oauth/revoke', {}), 400, 'invalid_request', 'revoke without token');
});

test('disabling a user invalidates their tokens at once and refuses new logins', async () => {
  const token = await userWithToken(srv, 'to-disable', ['viewer']);
  assert.equal((await srv.get('/v2/entities', { auth: token })).status, 200);
  const off = await srv.patch('/api/identity/users/to-disable', { status: 'disabled' });
  assert.equal(off.status, 200, off.text);
  assert.equal(off.json.status, 'disabled');
  assertUnauthorized(await srv.get('/v2/entities', { auth: token }), 'token of a disabled user');
  assertOAuthError(await passwordGrant(srv, 'to-disable', PASSWORD), 400, 'invalid_grant', 'login of a disabled user');
  // Deleting a user also ends their tokens.
  const token2 = await userWithToken(srv, 'to-delete', ['viewer']);
  assert.equal((await srv.del('/api/identity/users/to-delete')).status, 204);
  assertUnauthorized(await srv.get('/v2/entities', { auth: token2 }), 'token of a deleted user');
});

// ---------------------------------------------------------------------------------------------
// 5. Login lockout and RFC 6749 error shapes
// ---------------------------------------------------------------------------------------------

test('lockout: after max_login_failures wrong passwords the right one is refused until the lockout passes', async () => {
  const s = await startServer({ config: '[security]\nmax_login_failures = 3\nlockout_seconds = 1\n' });
  try {
    await createUser(s, 'lockme', { roles: ['viewer'] });
    for (let i = 0; i < 3; i++) {
      assertOAuthError(await passwordGrant(s, 'lockme', WRONG_PASSWORD), 400, 'invalid_grant', `wrong password ${i + 1}`);
    }
    const locked = await passwordGrant(s, 'lockme', PASSWORD);
    assertOAuthError(locked, 400, 'invalid_grant', 'right password while locked');
    assert.match(locked.json.error_description, /lock/i);
    const user = await s.get('/api/identity/users/lockme');
    assert.ok(user.json.lockedUntil > Date.now() - 5000, user.text);
    // lockout_seconds = 1: the right password is accepted again after it.
    const ok = await eventually(async () => {
      const r = await passwordGrant(s, 'lockme', PASSWORD);
      return r.status === 200 ? r : false;
    }, 10_000, 'the lockout to end');
    assert.equal((await s.get('/v2/entities', { auth: ok.json.access_token })).status, 200);
  } finally {
    await s.close();
  }
});

test('lockout: an admin unlock ends it early', async () => {
  const s = await startServer({ config: '[security]\nmax_login_failures = 2\nlockout_seconds = 3600\n' });
  try {
    await createUser(s, 'unlockme', { roles: ['viewer'] });
    for (let i = 0; i < 2; i++) await passwordGrant(s, 'unlockme', WRONG_PASSWORD);
    assertOAuthError(await passwordGrant(s, 'unlockme', PASSWORD), 400, 'invalid_grant', 'locked for an hour');
    const unlock = await s.patch('/api/identity/users/unlockme', { unlock: true });
    assert.equal(unlock.status, 200, unlock.text);
    assert.equal((await passwordGrant(s, 'unlockme', PASSWORD)).status, 200);
  } finally {
    await s.close();
  }
});

test('/oauth/token answers RFC 6749 error shapes', async () => {
  assertOAuthError(await postForm(srv, '/oauth/token', { grant_type: 'authorization_code', code: 'x' }),
    400, 'unsupported_grant_type', 'unknown grant');
  assertOAuthError(await postForm(srv, '/oauth/token', { grant_type: 'password', username: 'u-viewer' }),
    400, 'invalid_request', 'no password');
  assertOAuthError(await postForm(srv, '/oauth/token', { username: 'u-viewer', password: PASSWORD }),
    400, 'invalid_request', 'no grant_type');
  const json = await srv.request('POST', '/oauth/token', {
    auth: null, body: { grant_type: 'password', username: 'u-viewer', password: PASSWORD },
  });
  assertOAuthError(json, 400, 'invalid_request', 'JSON body');
  const repeated = await srv.request('POST', '/oauth/token', {
    auth: null, headers: FORM, body: `grant_type=password&username=u-viewer&username=u-monitor&password=${encodeURIComponent(PASSWORD)}`,
  });
  assertOAuthError(repeated, 400, 'invalid_request', 'repeated parameter');
  assertOAuthError(await passwordGrant(srv, 'u-viewer', WRONG_PASSWORD), 400, 'invalid_grant', 'wrong password');
  assertOAuthError(await passwordGrant(srv, 'nobody-at-all', WRONG_PASSWORD), 400, 'invalid_grant', 'unknown user');
  assertOAuthError(await passwordGrant(srv, 'u-viewer', PASSWORD, { scope: 'platform_admin' }),
    400, 'invalid_scope', 'a role the user does not hold');

  // Client credentials: a wrong secret is 401 invalid_client with a Basic challenge.
  const acc = await srv.post('/api/identity/service-accounts', {
    clientId: 'oauth-shapes', name: 'shapes', roles: ['viewer'], tenants: ALL_TENANTS,
  });
  assert.equal(acc.status, 201, acc.text);
  const bad = await postForm(srv, '/oauth/token', { grant_type: 'client_credentials', client_id: 'oauth-shapes', client_secret: 'wrong' });
  assertOAuthError(bad, 401, 'invalid_client', 'bad client secret');
  assert.match(bad.headers.get('www-authenticate') || '', /^Basic\b/);
  assertOAuthError(await postForm(srv, '/oauth/token', { grant_type: 'client_credentials' }), 401, 'invalid_client', 'no client auth');
  const basicBad = await postForm(srv, '/oauth/token', { grant_type: 'client_credentials' }, {
    headers: { Authorization: `Basic ${Buffer.from('oauth-shapes:wrong').toString('base64')}` },
  });
  assertOAuthError(basicBad, 401, 'invalid_client', 'bad Basic secret');
  const basicOk = await postForm(srv, '/oauth/token', { grant_type: 'client_credentials' }, {
    headers: { Authorization: `Basic ${Buffer.from(`oauth-shapes:${acc.json.clientSecret}`).toString('base64')}` },
  });
  assert.equal(basicOk.status, 200, basicOk.text);
  assert.equal(basicOk.headers.get('cache-control'), 'no-store');
  assert.equal((await srv.get('/v2/entities', { auth: basicOk.json.access_token })).status, 200);
});

// ---------------------------------------------------------------------------------------------
// 6. Tenant and service-path isolation
// ---------------------------------------------------------------------------------------------

/** Admin writes an entity with a level into gaoming at `servicePath`. */
async function putGaoming(id, servicePath, level, tenant = 'gaoming') {
  const res = await srv.post('/v2/entities?options=keyValues', { id, type: 'Sensor', level },
    { headers: { 'Fiware-Service': tenant, 'Fiware-ServicePath': servicePath } });
  assert.equal(res.status, 201, res.text);
}

let waterRead; // gaoming:/water read-only
let waterWrite; // gaoming:/water read-write

test('tenant isolation: a gaoming:/water read-only token sees only /water of gaoming and writes nothing', async () => {
  await putGaoming('W1', '/water', 1);
  await putGaoming('W2', '/water/x', 2);
  await putGaoming('A1', '/air', 3);
  await putGaoming('O1', '/water', 4, 'other');
  // A steward of all of gaoming narrows a token to /water with the OAuth scope.
  await createUser(srv, 'steward', { roles: ['data_steward'], tenants: [{ tenant: 'gaoming', path: '/', write: true }] });
  const r = await passwordGrant(srv, 'steward', PASSWORD, { scope: 'ngsi:gaoming:/water:r' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.scope, 'ngsi:gaoming:/water:r');
  waterRead = r.json.access_token;
  waterWrite = await loginToken(srv, 'steward', { scope: 'ngsi:gaoming:/water:rw' });
  // The scope cannot exceed the user's grants.
  assertOAuthError(await passwordGrant(srv, 'steward', PASSWORD, { scope: 'ngsi:other:/:r' }), 400, 'invalid_scope', 'foreign tenant');

  const all = await srv.get('/v2/entities?options=keyValues', { auth: waterRead, headers: GAOMING });
  assert.equal(all.status, 200, all.text);
  assert.deepEqual(all.json.map((e) => e.id).sort(), ['W1', 'W2']);
  const count = await srv.get('/v2/entities?options=count&limit=1', { auth: waterRead, headers: GAOMING });
  assert.equal(count.headers.get('fiware-total-count'), '2', 'the count is narrowed too');
  // The admin sees all three, so the narrowing is the token's doing.
  const admin = await srv.get('/v2/entities', { headers: GAOMING });
  assert.deepEqual(admin.json.map((e) => e.id).sort(), ['A1', 'W1', 'W2']);

  const air = await srv.get('/v2/entities/A1', { auth: waterRead, headers: GAOMING });
  assert.equal(air.status, 404, air.text);
  assert.equal(air.json.error, 'NotFound');
  assert.equal((await srv.get('/v2/entities/W2', { auth: waterRead, headers: GAOMING })).status, 200);
  const airPath = await srv.get('/v2/entities', { auth: waterRead, headers: { ...GAOMING, 'Fiware-ServicePath': '/air' } });
  assert.ok(airPath.status === 403 || (airPath.status === 200 && airPath.json.length === 0),
    `an explicit /air gives nothing: ${airPath.status} ${airPath.text}`);
  const airOne = await srv.get('/v2/entities/A1', { auth: waterRead, headers: { ...GAOMING, 'Fiware-ServicePath': '/air' } });
  assert.equal(airOne.status, 404, `naming /air does not open it: ${airOne.text}`);
  const types = await srv.get('/v2/types/Sensor', { auth: waterRead, headers: GAOMING });
  assert.equal(types.status, 200, types.text);
  assert.equal(types.json.count, 2, `type counts are narrowed: ${types.text}`);

  assertForbidden(await srv.get('/v2/entities', { auth: waterRead, headers: { 'Fiware-Service': 'other' } }), 'other tenant');
  assertForbidden(await srv.get('/v2/entities/O1', { auth: waterRead, headers: { 'Fiware-Service': 'other' } }), 'other tenant entity');
  assertForbidden(await srv.get('/v2/entities', { auth: waterRead }), 'default tenant');

  const write = await srv.post('/v2/entities', { id: 'W9', type: 'Sensor' },
    { auth: waterRead, headers: { ...GAOMING, 'Fiware-ServicePath': '/water' } });
  assertForbidden(write, 'write with a read-only grant');
  const patch = await srv.patch('/v2/entities/W1/attrs?options=keyValues', { level: 99 },
    { auth: waterRead, headers: { ...GAOMING, 'Fiware-ServicePath': '/water' } });
  assertForbidden(patch, 'PATCH with a read-only grant');
  const w1 = await srv.get('/v2/entities/W1?options=keyValues', { headers: GAOMING });
  assert.equal(w1.json.level, 1, 'nothing was written');
});

test('service-path isolation: a gaoming:/water read-write token writes under /water only', async () => {
  const at = (p) => ({ auth: waterWrite, headers: { ...GAOMING, 'Fiware-ServicePath': p } });
  assert.equal((await srv.post('/v2/entities', { id: 'W10', type: 'Sensor' }, at('/water'))).status, 201);
  assert.equal((await srv.post('/v2/entities', { id: 'W11', type: 'Sensor' }, at('/water/x'))).status, 201);
  assertForbidden(await srv.post('/v2/entities', { id: 'A10', type: 'Sensor' }, at('/air')), 'create under /air');
  assertForbidden(await srv.post('/v2/entities', { id: 'R10', type: 'Sensor' }, { auth: waterWrite, headers: GAOMING }),
    'create at the default path /');
  assertForbidden(await srv.post('/v2/entities', { id: 'W12', type: 'Sensor' }, at('/waterworks')),
    '/waterworks is not under /water');
  const batch = await srv.post('/v2/op/update?options=keyValues',
    { actionType: 'append', entities: [{ id: 'A11', type: 'Sensor', level: 1 }] }, at('/air'));
  assertForbidden(batch, 'batch under /air');
  // An update of an /air entity through /water does not reach it.
  const patch = await srv.patch('/v2/entities/A1/attrs?options=keyValues', { level: 77 }, at('/water'));
  assert.equal(patch.status, 404, patch.text);
  const admin = await srv.get('/v2/entities?options=keyValues', { headers: GAOMING });
  const ids = admin.json.map((e) => e.id).sort();
  assert.deepEqual(ids, ['A1', 'W1', 'W10', 'W11', 'W2']);
  assert.equal(admin.json.find((e) => e.id === 'A1').level, 3);
});

test('QuantumLeap history is narrowed to the granted tenant and service paths', async () => {
  const hist = (id, opts = {}) => srv.get(`/ql/v2/entities/${id}/attrs/level`, { auth: waterRead, headers: GAOMING, ...opts });
  const w1 = await hist('W1');
  assert.equal(w1.status, 200, w1.text);
  assert.deepEqual(w1.json.values, [1]);
  const a1 = await hist('A1');
  assert.equal(a1.status, 404, `history of an /air entity: ${a1.text}`);
  const adminA1 = await srv.get('/ql/v2/entities/A1/attrs/level', { headers: GAOMING });
  assert.equal(adminA1.status, 200, 'the admin does see it');
  const byType = await srv.get('/ql/v2/types/Sensor/attrs/level', { auth: waterRead, headers: GAOMING });
  assert.equal(byType.status, 200, byType.text);
  const typeIds = JSON.stringify(byType.json);
  assert.ok(typeIds.includes('"W1"') && !typeIds.includes('"A1"'), `by type: ${byType.text}`);
  // The listings that span entities and types are narrowed the same way.
  const listing = await srv.get('/ql/v2/entities', { auth: waterRead, headers: GAOMING });
  assert.equal(listing.status, 200, listing.text);
  const listed = listing.json.map((e) => e.entityId);
  assert.ok(listed.includes('W1') && !listed.includes('A1'), `listing: ${listing.text}`);
  const adminListing = await srv.get('/ql/v2/entities', { headers: GAOMING });
  assert.ok(adminListing.json.some((e) => e.entityId === 'A1'), `the admin's listing: ${adminListing.text}`);
  const acrossTypes = await srv.get('/ql/v2/attrs/level', { auth: waterRead, headers: GAOMING });
  assert.equal(acrossTypes.status, 200, acrossTypes.text);
  assert.ok(acrossTypes.text.includes('"W1"') && !acrossTypes.text.includes('"A1"'), `attrs: ${acrossTypes.text}`);
  const other = await hist('O1', { headers: { 'Fiware-Service': 'other' } });
  assertForbidden(other, 'history of another tenant');
  const airPath = await hist('A1', { headers: { ...GAOMING, 'Fiware-ServicePath': '/air' } });
  assertForbidden(airPath, 'history with an ungranted service path');
  // Deleting history follows the write grants: a read-only token may delete nothing, the
  // /water read-write token only what is under /water.
  assertForbidden(await srv.del('/ql/v2/types/Sensor', { auth: waterRead, headers: GAOMING }), 'delete with a read-only grant');
  const airDelete = await srv.del('/ql/v2/entities/A1', { auth: waterWrite, headers: GAOMING });
  assert.equal(airDelete.status, 404, `deleting an /air entity's history through /water: ${airDelete.text}`);
  const typeDelete = await srv.del('/ql/v2/types/Sensor?toDate=2100-01-01T00:00:00Z',
    { auth: waterWrite, headers: { ...GAOMING, 'Fiware-ServicePath': '/water' } });
  assert.equal(typeDelete.status, 204, typeDelete.text);
  assert.equal((await hist('W1')).status, 404, 'the /water history went');
  assert.equal((await srv.get('/ql/v2/entities/A1/attrs/level', { headers: GAOMING })).status, 200, 'the /air history stayed');
  // The audit entry says what the deletion selected: its query and service path.
  const audit = await srv.get('/api/audit?action=DELETE%20/ql/v2/types/%7BentityType%7D', { auth: tokens.security_auditor });
  assert.equal(audit.status, 200, audit.text);
  assert.deepEqual(audit.json.map((e) => [e.actor, e.target, e.outcome]), [
    ['steward', '/ql/v2/types/Sensor [gaoming]', '403'],
    ['steward', '/ql/v2/types/Sensor?toDate=2100-01-01T00:00:00Z /water [gaoming]', '204']], audit.text);
});

test('a subscription made by a /water-only token notifies only changes under /water', async () => {
  const rx = await startReceiver();
  try {
    const sub = await srv.post('/v2/subscriptions', {
      subject: { entities: [{ idPattern: '.*', type: 'Sensor' }], condition: { attrs: ['level'] } },
      notification: { http: { url: `${rx.url}/water-only` }, attrs: ['level'], attrsFormat: 'keyValues' },
    }, { auth: waterRead, headers: GAOMING });
    assert.equal(sub.status, 201, sub.text);
    const change = async (id, servicePath, level) => {
      const r = await srv.patch(`/v2/entities/${id}/attrs?options=keyValues`, { level },
        { headers: { ...GAOMING, 'Fiware-ServicePath': servicePath } });
      assert.equal(r.status, 204, r.text);
    };
    // /air first, then /water: if the /air change were notified it would come no later than
    // the /water one (changes are notified in order), so once /water arrived, /air had its chance.
    await change('A1', '/air', 31);
    await change('W1', '/water', 11);
    const got = await rx.waitFor((r) => r.path === '/water-only' && r.json?.data?.some((e) => e.id === 'W1' && e.level === 11));
    assert.equal(got.headers['fiware-service'], 'gaoming');
    const leaked = rx.matching((r) => r.json?.data?.some((e) => e.id === 'A1'));
    assert.deepEqual(leaked.map((r) => r.text), [], 'no notification about /air');
  } finally {
    await rx.close();
  }
});

test('a /water-only token sees and manages only subscriptions within /water: another department\'s cannot be read, redirected or deleted', async () => {
  const subscription = (url) => ({
    subject: { entities: [{ idPattern: '.*', type: 'Sensor' }] }, notification: { http: { url } },
  });
  const air = await srv.post('/v2/subscriptions', subscription('http://127.0.0.1:9/air-dept'),
    { headers: { ...GAOMING, 'Fiware-ServicePath': '/air' } });
  assert.equal(air.status, 201, air.text);
  const airId = air.headers.get('location').split('/').pop();
  const mine = await srv.post('/v2/subscriptions', subscription('http://127.0.0.1:9/water-dept'),
    { auth: waterRead, headers: GAOMING });
  assert.equal(mine.status, 201, mine.text);
  const mineId = mine.headers.get('location').split('/').pop();
  const asWater = { auth: waterRead, headers: GAOMING };
  try {
    const listed = await srv.get('/v2/subscriptions?options=count&limit=1000', asWater);
    assert.equal(listed.status, 200, listed.text);
    const ids = listed.json.map((x) => x.id);  // the earlier test's /water one is there too
    assert.ok(ids.includes(mineId) && !ids.includes(airId), JSON.stringify(ids));
    assert.equal(listed.headers.get('fiware-total-count'), String(ids.length));
    assert.equal((await srv.get(`/v2/subscriptions/${mineId}`, asWater)).status, 200);
    const hidden = await srv.get(`/v2/subscriptions/${airId}`, asWater);
    assert.equal(hidden.status, 404, hidden.text);
    assert.equal(hidden.json.error, 'NotFound');
    const redirected = await srv.patch(`/v2/subscriptions/${airId}`,
      { notification: { http: { url: 'http://127.0.0.1:9/stolen' } } }, asWater);
    assert.equal(redirected.status, 404, redirected.text);
    assert.equal((await srv.del(`/v2/subscriptions/${airId}`, asWater)).status, 404);
    const untouched = await srv.get(`/v2/subscriptions/${airId}`, { headers: GAOMING });
    assert.equal(untouched.status, 200, untouched.text);
    assert.equal(untouched.json.notification.http.url, 'http://127.0.0.1:9/air-dept');
    // Its own, it manages.
    assert.equal((await srv.patch(`/v2/subscriptions/${mineId}`, { throttling: 5 }, asWater)).status, 204);
    assert.equal((await srv.del(`/v2/subscriptions/${mineId}`, asWater)).status, 204);
    const all = await srv.get('/v2/subscriptions?limit=1000', { headers: GAOMING });
    assert.ok(all.json.some((x) => x.id === airId) && !all.json.some((x) => x.id === mineId), all.text);
  } finally {
    await srv.del(`/v2/subscriptions/${airId}`, { headers: GAOMING });
  }
});

// ---------------------------------------------------------------------------------------------
// 7. Bootstrap of the first administrator
// ---------------------------------------------------------------------------------------------

test('bootstrap: a one-time token on stdout and in DATA/bootstrap-token creates the first admin once', async () => {
  const s = new Server({ adminToken: null });
  try {
    await s.start();
    const m = /\b(zcb_[A-Za-z0-9._~+/=-]+)/.exec(s.stdout);
    assert.ok(m, `no bootstrap token on stdout: ${s.stdout}`);
    const bootstrap = m[1];
    const file = path.join(s.dataDir, 'bootstrap-token');
    assert.equal(fs.readFileSync(file, 'utf8').trim(), bootstrap);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600, 'the token file is private');

    // Nothing works with it except the bootstrap itself.
    assertUnauthorized(await s.get('/v2/entities'), 'no token');
    assertUnauthorized(await s.get('/v2/entities', { auth: bootstrap }), 'the bootstrap token is not an access token');
    const body = { login: 'chief', password: PASSWORD, displayName: 'Chief administrator' };
    const wrong = await s.post('/api/identity/bootstrap', body, { auth: 'zcb_wrong_wrong_wrong_wrong_wrong' });
    assert.equal(wrong.status, 401, wrong.text);
    assert.ok(fs.existsSync(file), 'a wrong token does not consume it');

    const made = await s.post('/api/identity/bootstrap', body, { auth: bootstrap });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.json.login, 'chief');
    const adminToken = made.json.access_token;
    const me = await s.get('/api/identity/me', { auth: adminToken });
    assert.equal(me.status, 200, me.text);
    assert.deepEqual(me.json.roles, ['platform_admin']);
    assert.equal((await s.post('/v2/entities', { id: 'Boot-1', type: 'Probe' }, { auth: adminToken })).status, 201);
    assert.equal((await s.get('/api/identity/users', { auth: adminToken })).status, 200);
    assert.equal((await passwordGrant(s, 'chief', PASSWORD)).status, 200, 'the chosen password works');

    const again = await s.post('/api/identity/bootstrap', { ...body, login: 'chief2' }, { auth: bootstrap });
    assert.equal(again.status, 401, again.text);
    assert.equal(again.json.error, 'Unauthorized');
    assert.ok(!fs.existsSync(file), 'the bootstrap token file is gone');
    assert.equal((await s.get('/api/identity/users/chief2', { auth: adminToken })).status, 404);

    // A restart with an admin token does not add an admin to a directory that has one.
    s.adminToken = `zc_test_restart_${'a'.repeat(32)}`;
    const { code } = await s.stop();
    assert.equal(code, 0);
    const printedBefore = s.stdout.length;
    await s.start();
    assert.ok(!/zcb_/.test(s.stdout.slice(printedBefore)), `no new bootstrap token: ${s.stdout.slice(printedBefore)}`);
    assert.ok(!fs.existsSync(file), 'no new bootstrap token file');
    assert.equal((await s.get('/v2/entities/Boot-1', { auth: adminToken })).status, 200, 'the bootstrap admin still works');
    assertUnauthorized(await s.get('/v2/entities'), 'the new ZHICHENG_ADMIN_TOKEN');
    const users = await s.get('/api/identity/users', { auth: adminToken });
    assert.deepEqual(users.json.map((u) => u.login), ['chief']);
  } finally {
    await s.close();
  }
});

test('the data directory and every file the server creates in it are its user\'s alone; a directory others may enter is warned about', async () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'zhicheng-private-'));
  fs.chmodSync(parent, 0o755);
  const fresh = new Server({ dataDir: path.join(parent, 'data') });  // made by the server
  const open = new Server({ dataDir: path.join(parent, 'open') });
  fs.mkdirSync(open.dataDir, { mode: 0o755 });
  fs.chmodSync(open.dataDir, 0o755);  // whatever the test runner's umask
  try {
    await fresh.start();
    assert.equal((await fresh.post('/v2/entities', { id: 'Private-1', type: 'Probe' })).status, 201);
    assert.equal(fs.statSync(fresh.dataDir).mode & 0o777, 0o700, 'the data directory');
    const files = fs.readdirSync(fresh.dataDir);
    for (const name of ['zhicheng.db', 'zhicheng.db-wal', 'identity.db', 'audit.db', 'audit.key']) {
      assert.ok(files.includes(name), `${name} among ${files}`);
    }
    for (const name of files) {
      assert.equal(fs.statSync(path.join(fresh.dataDir, name)).mode & 0o077, 0, `${name} is private`);
    }
    assert.ok(!/may enter the data directory/.test(fresh.stderr), fresh.stderr);

    await open.start();
    assert.match(open.stderr, /warning every user of this machine may enter the data directory .*open \(mode 0755\).*chmod 700 /);
    assert.equal(fs.statSync(path.join(open.dataDir, 'zhicheng.db')).mode & 0o077, 0, 'its new files are private all the same');
  } finally {
    await fresh.close();
    await open.close();
    fs.rmSync(parent, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// 8. Rate limits
// ---------------------------------------------------------------------------------------------

test('rate limit per token: a burst gets 429 with Retry-After while another token is served', async () => {
  const s = await startServer({ config: '[security]\nrate_per_token = 5\nburst_per_token = 5\n' });
  try {
    const other = await userWithToken(s, 'calm', ['viewer']);
    const t0 = Date.now();
    const burst = await Promise.all(Array.from({ length: 20 }, () => s.get('/v2/entities')));
    const elapsed = (Date.now() - t0) / 1000;
    const limited = burst.filter((r) => r.status === 429);
    const served = burst.filter((r) => r.status === 200);
    // At most the burst plus what the rate refilled while the requests came in.
    const allowance = 5 + Math.ceil(5 * elapsed);
    assert.ok(served.length <= allowance, `${served.length} served in ${elapsed} s, allowance ${allowance}: ${burst.map((r) => r.status)}`);
    assert.ok(limited.length >= 1, `some of 20 are limited: ${burst.map((r) => r.status)}`);
    assert.ok(served.length >= 1, `the burst allowance serves some: ${burst.map((r) => r.status)}`);
    assert.equal(limited.length + served.length, 20);
    for (const r of limited) assertTooMany(r, 'burst');
    assert.equal(typeof limited[0].json.description, 'string');
    const calm = await s.get('/v2/entities', { auth: other });
    assert.equal(calm.status, 200, `another token is not limited: ${calm.text}`);
    // The bucket refills (5/s): the limited token is served again.
    await eventually(async () => (await s.get('/v2/entities')).status === 200, 10_000, 'the token bucket to refill');
  } finally {
    await s.close();
  }
});

test('rate limit per address: unauthenticated /oauth/token attempts are limited per client address', async () => {
  const s = await startServer({ config: '[security]\nrate_per_address = 2\nburst_per_address = 3\n' });
  try {
    const t0 = Date.now();
    const attempts = await Promise.all(Array.from({ length: 12 }, () => passwordGrant(s, 'nobody', WRONG_PASSWORD)));
    const elapsed = (Date.now() - t0) / 1000;
    const limited = attempts.filter((r) => r.status === 429);
    const allowance = 3 + Math.ceil(2 * elapsed);
    assert.ok(attempts.length - limited.length <= allowance,
      `${attempts.length - limited.length} answered in ${elapsed} s, allowance ${allowance}: ${attempts.map((r) => r.status)}`);
    assert.ok(limited.length >= 1, `some of 12 are limited: ${attempts.map((r) => r.status)}`);
    for (const r of limited) assertTooMany(r, 'oauth burst');
    for (const r of attempts.filter((x) => x.status !== 429)) assertOAuthError(r, 400, 'invalid_grant', 'not limited');
    // Another client address (127.0.0.2 is loopback too on Linux) has its own bucket.
    const fromOther = await requestFrom(s, '127.0.0.2', 'GET', '/healthz');
    assert.equal(fromOther.status, 200, `another address is not limited: ${fromOther.text}`);
    // NGSI routes are limited by address too, with the NGSI error JSON.
    const v2 = await Promise.all(Array.from({ length: 10 }, () => s.get('/v2/entities')));
    const v2Limited = v2.filter((r) => r.status === 429);
    assert.ok(v2Limited.length >= 1, `v2 under the address limit: ${v2.map((r) => r.status)}`);
    for (const r of v2Limited) assertTooMany(r, 'v2 by address');
    await eventually(async () => (await s.get('/healthz', { auth: null })).status === 200, 10_000, 'the address bucket to refill');
  } finally {
    await s.close();
  }
});

test('behind a trusted proxy: X-Forwarded-For names the client for per-address limits, the audit log and the access log; from any other peer it is ignored', async () => {
  const s = await startServer({
    config: '[http]\ntrusted_proxies = ["127.0.0.1"]\n[security]\nrate_per_address = 0.001\nburst_per_address = 2\n',
  });
  const auth = { Authorization: `Bearer ${s.adminToken}` };
  const via = (address) => ({ headers: { 'X-Forwarded-For': address } });
  try {
    // The proxy (127.0.0.1) forwards two clients: each has its own bucket of 2.
    assert.equal((await s.post('/v2/entities', { id: 'Proxied-1', type: 'Probe' }, via('198.51.100.4'))).status, 201);
    assert.equal((await s.get('/v2/entities', via('198.51.100.4'))).status, 200);
    assertTooMany(await s.get('/v2/entities', via('198.51.100.4')), 'the forwarded client over its limit');
    // A client that wrote its own header: the proxy appended the address it saw.
    assertTooMany(await s.get('/v2/entities', via('203.0.113.50, 198.51.100.4')), 'a spoofed left entry');
    assert.equal((await s.get('/v2/entities', via('198.51.100.5'))).status, 200, 'another forwarded client');
    assert.equal((await s.get('/v2/entities')).status, 200, 'the proxy itself, without the header');

    // From a peer that is not a trusted proxy the header changes nothing.
    const direct = (method, target, address, body) => requestFrom(s, '127.0.0.2', method, target, {
      headers: { ...auth, 'X-Forwarded-For': address, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body,
    });
    assert.equal((await direct('POST', '/v2/entities', '198.51.100.6', JSON.stringify({ id: 'Direct-1', type: 'Probe' }))).status, 201);
    assert.equal((await direct('GET', '/v2/entities', '198.51.100.7')).status, 200);
    assertTooMany(await direct('GET', '/v2/entities', '198.51.100.8'), 'a direct client cannot pick a new address');

    // The access log line is written once the answer is sent: it may come a moment later.
    for (const line of [/path=\/v2\/entities status=201 .*client=198\.51\.100\.4 via 127\.0\.0\.1:\d+\n/,
      /path=\/v2\/entities status=201 .*client=127\.0\.0\.2:\d+\n/]) {
      await eventually(() => line.test(s.stderr), 10_000, `access log ${line}`);
    }
    assert.equal((await s.stop()).code, 0);
    const addresses = sqlite(path.join(s.dataDir, 'audit.db'),
      "SELECT target || ' ' || client_address FROM audit_log WHERE action = 'POST /v2/entities' ORDER BY seq").trim().split('\n');
    assert.equal(addresses.length, 2, addresses.join('\n'));
    assert.match(addresses[0], /^\/v2\/entities .*198\.51\.100\.4 via 127\.0\.0\.1:\d+$/);
    assert.match(addresses[1], /^\/v2\/entities .*127\.0\.0\.2:\d+$/);
  } finally {
    await s.close();
  }
});

// ---------------------------------------------------------------------------------------------
// 9. The audit log: API, chain, export, offline verification and tampering
// ---------------------------------------------------------------------------------------------

test('audit: one chained entry per state-changing request; filters, export, and offline verify against tampering', async () => {
  const s = await startServer();
  try {
    // Seq 1 is the first-start admin (identity.bootstrap by "system").
    const auditor = await userWithToken(s, 'auditor-1', ['security_auditor']); // user.create, login
    await createUser(s, 'worker-1', { roles: ['data_steward'] }); // user.create
    assert.equal((await passwordGrant(s, 'worker-1', WRONG_PASSWORD)).status, 400); // login failure
    const worker = await loginToken(s, 'worker-1'); // login success
    const h = { auth: worker };
    assert.equal((await s.post('/v2/entities', { id: 'Audit-1', type: 'Probe' }, h)).status, 201);
    assert.equal((await s.get('/v2/entities', h)).status, 200); // a read: not audited
    assert.equal((await s.get('/v2/entities/Audit-1', h)).status, 200); // a read: not audited
    const batch = await s.post('/v2/op/update', {
      actionType: 'append',
      entities: [{ id: 'Audit-2', type: 'Probe' }, { id: 'Audit-3', type: 'Probe' }, { id: 'Audit-4', type: 'Probe' }],
    }, h);
    assert.equal(batch.status, 204, batch.text);
    const issued = await s.post('/api/identity/tokens', { subject: 'worker-1' }); // token.issue
    assert.equal(issued.status, 201, issued.text);
    assert.equal((await s.del(`/api/identity/tokens/${issued.json.id}`)).status, 204); // token.revoke
    assert.equal((await s.patch('/api/identity/users/worker-1', { displayName: 'Worker One' })).status, 200); // user.update

    const all = await s.get('/api/audit?limit=1000', { auth: auditor });
    assert.equal(all.status, 200, all.text);
    const entries = all.json;
    // seq dense from 1, each prevHash the previous hash, the first the genesis hash.
    entries.forEach((e, i) => {
      assert.equal(e.seq, i + 1, `seq of entry ${i}`);
      assert.equal(e.prevHash, i === 0 ? GENESIS : entries[i - 1].hash, `prevHash of entry ${e.seq}`);
      assert.match(e.hash, /^[0-9a-f]{64}$/);
    });
    assert.deepEqual(entries.map((e) => [e.actor, e.action, e.outcome]), [
      ['system', 'identity.bootstrap', 'success'],
      ['admin', 'user.create', 'success'],
      ['auditor-1', 'login', 'success'],
      ['admin', 'user.create', 'success'],
      ['worker-1', 'login', 'failure'],
      ['worker-1', 'login', 'success'],
      ['worker-1', 'POST /v2/entities', '201'],
      ['worker-1', 'POST /v2/op/update', '204'],
      ['admin', 'token.issue', 'success'],
      ['admin', 'token.revoke', 'success'],
      ['admin', 'user.update', 'success'],
    ]);
    assert.equal(entries.find((e) => e.action === 'token.revoke').target, issued.json.id);
    assert.equal(entries.find((e) => e.action === 'user.update').target, 'worker-1');
    assert.ok(!all.text.includes(issued.json.token) && !all.text.includes(PASSWORD), 'no secrets in the audit log');

    // Filters.
    const logins = await s.get('/api/audit?actor=worker-1&action=login', { auth: auditor });
    assert.deepEqual(logins.json.map((e) => e.outcome), ['failure', 'success']);
    const batches = await s.get(`/api/audit?action=${encodeURIComponent('POST /v2/op/update')}`, { auth: auditor });
    assert.equal(batches.json.length, 1, 'a batch of three entities is one entry');
    const adminOnes = await s.get('/api/audit?actor=admin&afterSeq=8', { auth: auditor });
    assert.deepEqual(adminOnes.json.map((e) => e.seq), [9, 10, 11]);
    const page = await s.get('/api/audit?limit=2&afterSeq=3', { auth: auditor });
    assert.deepEqual(page.json.map((e) => e.seq), [4, 5]);
    assert.equal((await s.get('/api/audit?limit=0', { auth: auditor })).status, 400);

    // Export: JSON lines, the same entries.
    const exp = await s.get('/api/audit/export', { auth: auditor });
    assert.equal(exp.status, 200, exp.text);
    assert.match(exp.headers.get('content-type'), /ndjson/);
    const lines = exp.text.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.slice(0, entries.length), entries);

    const { code } = await s.stop();
    assert.equal(code, 0);
  } catch (err) {
    await s.close();
    throw err;
  }
  try {
    const pristine = copyDataDir(s.dataDir);
    const ok = run(['audit', 'verify', '--data', s.dataDir]);
    assert.equal(ok.status, 0, `${ok.stdout}${ok.stderr}`);
    assert.match(ok.stdout, /audit log verified: \d+ entries, [1-9]\d* checkpoints/);
    const total = Number(/verified: (\d+) entries/.exec(ok.stdout)[1]);
    assert.ok(total >= 11, ok.stdout);

    // A changed row breaks its own hash.
    sqlite(path.join(s.dataDir, 'audit.db'), "UPDATE audit_log SET outcome='204' WHERE seq=3");
    const changed = run(['audit', 'verify', '--data', s.dataDir]);
    assert.equal(changed.status, 1, `${changed.stdout}${changed.stderr}`);
    assert.match(changed.stdout, /audit log BROKEN at entry 3\b/);

    // A deleted row is a gap in the chain.
    const gap = copyDataDir(pristine);
    sqlite(path.join(gap, 'audit.db'), 'DELETE FROM audit_log WHERE seq=4');
    const gapped = run(['audit', 'verify', '--data', gap]);
    assert.equal(gapped.status, 1, `${gapped.stdout}${gapped.stderr}`);
    assert.match(gapped.stdout, /BROKEN at entry 4\b.*missing/);

    // A cut tail: the shutdown checkpoint signed the last entry, so it points past the end.
    const cut = copyDataDir(pristine);
    sqlite(path.join(cut, 'audit.db'), `DELETE FROM audit_log WHERE seq>${total - 3}`);
    const truncated = run(['audit', 'verify', '--data', cut]);
    assert.equal(truncated.status, 1, `${truncated.stdout}${truncated.stderr}`);
    assert.match(truncated.stdout, new RegExp(`BROKEN at entry ${total - 2}\\b.*truncated`));

    // A checkpoint whose signature was altered is caught too.
    const forged = copyDataDir(pristine);
    sqlite(path.join(forged, 'audit.db'), "UPDATE audit_checkpoint SET signature = (CASE WHEN substr(signature,1,1)='0' THEN '1' ELSE '0' END) || substr(signature,2)");
    const bad = run(['audit', 'verify', '--data', forged]);
    assert.equal(bad.status, 1, `${bad.stdout}${bad.stderr}`);
    assert.match(bad.stdout, /BROKEN at entry \d+: checkpoint/);

    // The pristine copy still verifies: each tamper above started from it.
    assert.equal(run(['audit', 'verify', '--data', pristine]).status, 0);
  } finally {
    await s.close();
  }
});

test('audit archive: older entries move into files that verify and link to the log, which goes on; gaps and edits are caught', async () => {
  const s = await startServer({ config: '[audit]\ncheckpoint_entries = 5\n' });
  try {
    const auditor = await userWithToken(s, 'auditor-archive', ['security_auditor']);
    for (let i = 0; i < 30; i++) {
      assert.equal((await s.post('/v2/entities', { id: `Archived-${i}`, type: 'Probe' })).status, 201);
    }
    const before = (await s.get('/api/audit?limit=1000', { auth: auditor })).json;
    assert.ok(before.length >= 33, `${before.length} entries`);
    // Refused while the server holds the data directory.
    const busy = run(['audit', 'archive', '--data', s.dataDir, '--before', '2100-01-01']);
    assert.equal(busy.status, 2, `${busy.stdout}${busy.stderr}`);
    assert.match(busy.stderr, /stop the server first/);
    assert.equal(fs.existsSync(path.join(s.dataDir, 'audit-archive')), false);
    assert.equal((await s.stop()).code, 0);

    assert.equal(run(['audit', 'archive', '--data', s.dataDir, '--before', 'yesterday']).status, 2);
    // Through the newest checkpoint before the newest entry, which always stays.
    const through = Number(sqlite(path.join(s.dataDir, 'audit.db'),
      'SELECT max(seq) FROM audit_checkpoint WHERE seq < (SELECT max(seq) FROM audit_log)').trim());
    assert.ok(through > 1, `newest checkpoint but the last: ${through}`);
    const archived = run(['audit', 'archive', '--data', s.dataDir, '--before', '2100-01-01']);
    assert.equal(archived.status, 0, `${archived.stdout}${archived.stderr}`);
    const files = fs.readdirSync(path.join(s.dataDir, 'audit-archive')).sort();
    assert.equal(files.length, 1, files.join(' '));
    const [, first, last] = /^audit-(\d{12})-(\d{12})\.db$/.exec(files[0]).map(Number);
    assert.equal(first, 1);
    assert.equal(last, through);
    assert.match(archived.stdout, new RegExp(`entries 1 to ${last}\\b`));
    assert.equal(sqlite(path.join(s.dataDir, 'audit-archive', files[0]), 'SELECT count(*) FROM audit_log').trim(), String(last));

    const verified = run(['audit', 'verify', '--data', s.dataDir]);
    assert.equal(verified.status, 0, `${verified.stdout}${verified.stderr}`);
    assert.match(verified.stdout, new RegExp(`entries 1 to ${last} archived`));
    assert.match(verified.stdout, new RegExp(`archive verified: 1 file in .*, entries 1 to ${last}, chains intact and linked to the log`));

    // The server goes on from the newest entry; the API reads the live log, which records
    // the archiving; a second archive links to the first.
    await s.start();
    assert.equal((await s.post('/v2/entities', { id: 'After-archive', type: 'Probe' })).status, 201);
    const token = await loginToken(s, 'auditor-archive');
    const live = (await s.get('/api/audit?limit=1000', { auth: token })).json;
    assert.equal(live[0].seq, last + 1);
    assert.equal(live[0].prevHash, before.find((e) => e.seq === last).hash);
    const record = live.find((e) => e.action === 'audit.archive');
    assert.ok(record, JSON.stringify(live.map((e) => e.action)));
    assert.match(record.actor, /^cli:/);
    assert.match(record.detail, new RegExp(`entries 1 to ${last} in 1 file`));
    assert.equal((await s.stop()).code, 0);
    const again = run(['audit', 'archive', '--data', s.dataDir, '--before', '2100-01-01']);
    assert.equal(again.status, 0, `${again.stdout}${again.stderr}`);
    assert.match(again.stdout, new RegExp(`audit-${String(last + 1).padStart(12, '0')}-`));
    const twice = run(['audit', 'verify', '--data', s.dataDir]);
    assert.equal(twice.status, 0, `${twice.stdout}${twice.stderr}`);
    assert.match(twice.stdout, /archive verified: 2 files/);
    const pristine = copyDataDir(s.dataDir);

    // The oldest file moved elsewhere (cold storage) is said, not failed; a missing middle
    // file is a gap; an edited entry in a file breaks its chain.
    const moved = copyDataDir(pristine);
    fs.rmSync(path.join(moved, 'audit-archive', files[0]));
    const cold = run(['audit', 'verify', '--data', moved]);
    assert.equal(cold.status, 0, `${cold.stdout}${cold.stderr}`);
    assert.match(cold.stdout, new RegExp(`entries 1 to ${last} in no archive file here`));
    const gap = copyDataDir(pristine);
    const newest = fs.readdirSync(path.join(gap, 'audit-archive')).sort()[1];
    fs.rmSync(path.join(gap, 'audit-archive', newest));
    const gapped = run(['audit', 'verify', '--data', gap]);
    assert.equal(gapped.status, 1, `${gapped.stdout}${gapped.stderr}`);
    assert.match(gapped.stdout, /audit archive BROKEN: entries \d+ to \d+ in no archive file \(before the log\)/);
    const edited = copyDataDir(pristine);
    sqlite(path.join(edited, 'audit-archive', files[0]), "UPDATE audit_log SET outcome='500' WHERE seq=7");
    const broken = run(['audit', 'verify', '--data', edited]);
    assert.equal(broken.status, 1, `${broken.stdout}${broken.stderr}`);
    assert.match(broken.stdout, /audit archive BROKEN: audit-000000000001-\d+\.db at entry 7: .*hash does not match/);
  } finally {
    await s.close();
  }
});

test('audit: a device\'s telemetry is one entry per address and window, users\' writes one per request', async () => {
  const s = await startServer();
  try {
    const auditor = await userWithToken(s, 'auditor-2', ['security_auditor']);
    const account = await s.post('/api/identity/service-accounts', {
      clientId: 'gauge-17', name: '荷城水位计17', kind: 'device', roles: ['device'], tenants: ALL_TENANTS,
    });
    assert.equal(account.status, 201, account.text);
    const key = await s.post('/api/identity/service-accounts/gauge-17/api-keys', {});
    assert.equal(key.status, 201, key.text);
    const device = { auth: key.json.token };
    assert.equal((await s.post('/v2/entities?options=keyValues', { id: 'Gauge-17', type: 'WaterLevelGauge', level: 1 }, device)).status, 201);
    // 40 reports, four at a time: on several connections, as a gateway's pool sends them.
    for (let i = 0; i < 40; i += 4) {
      const sent = await Promise.all([0, 1, 2, 3].map((k) =>
        s.patch('/v2/entities/Gauge-17/attrs?options=keyValues', { level: 1 + (i + k) / 100 }, device)));
      for (const r of sent) assert.equal(r.status, 204, r.text);
    }
    assertForbidden(await s.get('/v2/entities', device), 'device read'); // denied: an entry of its own
    for (let i = 0; i < 3; i++) {
      assert.equal((await s.patch('/v2/entities/Gauge-17/attrs?options=keyValues', { level: 2 + i })).status, 204);
    }

    const read = async (query) => {
      const r = await s.get(`/api/audit?limit=1000&${query}`, { auth: auditor });
      assert.equal(r.status, 200, r.text);
      return r.json;
    };
    const patches = (await read('actor=gauge-17')).filter((e) => e.action === 'PATCH /v2/entities/{entityId}/attrs');
    // One entry for the device's address, whatever connections the reports came on.
    assert.equal(patches.length, 1, JSON.stringify(patches));
    assert.equal(patches[0].clientAddress, '127.0.0.1');
    const details = patches.map((e) => JSON.parse(e.detail));
    assert.equal(details[0].requests, 40);
    for (const [i, e] of patches.entries()) {
      assert.equal(e.actorKind, 'device');
      assert.equal(e.outcome, '204');
      assert.equal(e.target, '/v2/entities/Gauge-17/attrs');
      assert.deepEqual(details[i].targets, ['/v2/entities/Gauge-17/attrs']);
      assert.ok(details[i].first <= details[i].last, e.detail);
    }
    const denied = (await read('actor=gauge-17')).filter((e) => e.outcome === '403');
    assert.equal(denied.length, 1, 'a denied request is recorded on its own');
    const admins = (await read('actor=admin')).filter((e) => e.action === 'PATCH /v2/entities/{entityId}/attrs');
    assert.equal(admins.length, 3, 'a user\'s writes stay one entry each');
    const metrics = await s.get('/metrics');
    assert.match(metrics.text, /^zhicheng_audit_tallied_total 41$/m, 'the create and 40 reports were tallied');

    // A window still open at shutdown is written then, and the chain verifies.
    for (let i = 0; i < 5; i++) {
      assert.equal((await s.patch('/v2/entities/Gauge-17/attrs?options=keyValues', { level: 3 }, device)).status, 204);
    }
    assert.equal((await s.stop()).code, 0);
    const ok = run(['audit', 'verify', '--data', s.dataDir]);
    assert.equal(ok.status, 0, `${ok.stdout}${ok.stderr}`);
    await s.start();
    const after = (await read('actor=gauge-17')).filter((e) => e.action === 'PATCH /v2/entities/{entityId}/attrs');
    assert.equal(after.reduce((n, e) => n + JSON.parse(e.detail).requests, 0), 45);
  } finally {
    await s.close();
  }
});

test('audit: [audit] group_delay_ms above 1000 is refused at start; at 1000 the audit API still shows every write at once', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zhicheng-audit-delay-'));
  try {
    const config = path.join(dir, 'zhicheng.toml');
    fs.writeFileSync(config, '[audit]\ngroup_delay_ms = 1001\n');
    const r = run(['serve', '--data', path.join(dir, 'data'), '--listen', '127.0.0.1:0', '--config', config]);
    assert.notEqual(r.status, 0, 'the server started with group_delay_ms = 1001');
    assert.match(r.stderr, /group_delay_ms must be at most 1000/);
    assert.ok(!fs.existsSync(path.join(dir, 'data', 'zhicheng.db')), 'a refused start created a database');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const s = await startServer({ config: '[audit]\ngroup_delay_ms = 1000\n' });
  try {
    const auditor = await userWithToken(s, 'auditor-d', ['security_auditor']);
    for (let i = 0; i < 3; i++) {
      assert.equal((await s.post('/v2/entities', { id: `Delay-${i}`, type: 'Probe' })).status, 201);
    }
    // Reading the audit API writes what was recorded before the request: nothing is missing.
    const got = await s.get('/api/audit?action=POST%20/v2/entities&limit=10', { auth: auditor });
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(got.json.map((e) => e.target), ['/v2/entities', '/v2/entities', '/v2/entities']);
  } finally {
    await s.close();
  }
});

test('audit: denied requests are audited with who tried (401 anonymous, 403 the caller)', async () => {
  // X-Request-Id is echoed into the entry, which identifies these two requests in the log.
  const rid403 = `deny403${Date.now()}`;
  const rid401 = `deny401${Date.now()}`;
  assertForbidden(await srv.post('/v2/entities', { id: 'Denied-1', type: 'Probe' },
    { auth: tokens.viewer, headers: { 'X-Request-Id': rid403 } }), 'viewer POST');
  assertUnauthorized(await srv.post('/v2/entities', { id: 'Denied-2', type: 'Probe' },
    { auth: null, headers: { 'X-Request-Id': rid401 } }), 'anonymous POST');
  const log = await srv.get(`/api/audit?action=${encodeURIComponent('POST /v2/entities')}&limit=1000`,
    { auth: tokens.security_auditor });
  assert.equal(log.status, 200, log.text);
  const e403 = log.json.find((e) => e.requestId === rid403);
  const e401 = log.json.find((e) => e.requestId === rid401);
  assert.ok(e403 && e401, `both denials are in the log: ${log.text}`);
  assert.equal(e401.outcome, '401');
  assert.equal(e401.actor, 'anonymous');
  assert.equal(e403.outcome, '403');
  // The token was valid: the log must say whose it was, or an auditor cannot tell who probed.
  assert.equal(e403.actor, 'u-viewer', `actor of a 403: ${JSON.stringify(e403)}`);
});

test('audit: a flood of 429s from one address writes a bounded number of entries and counts the rest', async () => {
  const s = await startServer({ config: '[security]\nrate_per_address = 20\nburst_per_address = 20\n' });
  try {
    const auditor = await userWithToken(s, 'auditor-flood', ['security_auditor']);
    // 200 requests at once from 127.0.0.2: its bucket holds 20, so most are refused with 429.
    const t0 = Date.now();
    const flood = await Promise.all(Array.from({ length: 200 }, () => requestFrom(s, '127.0.0.2', 'GET', '/v2/entities')));
    const elapsed = (Date.now() - t0) / 1000;
    const refused = flood.filter((r) => r.status === 429).length;
    assert.ok(refused >= 100, `most of the flood is refused: ${refused} of 200`);
    // Read the log and the counter from a third address, whose bucket is untouched.
    const asAuditor = { headers: { Authorization: `Bearer ${auditor}` } };
    const log = await requestFrom(s, '127.0.0.3', 'GET', `/api/audit?action=${encodeURIComponent('GET /v2/entities')}&limit=1000`, asAuditor);
    assert.equal(log.status, 200, log.text);
    const entries429 = log.json.filter((e) => e.outcome === '429' && e.clientAddress.startsWith('127.0.0.2:'));
    // A burst of 10 entries per address, then 10 a minute.
    const allowance = 10 + Math.ceil((elapsed + 1) * 10 / 60);
    assert.ok(entries429.length >= 1 && entries429.length <= allowance,
      `${entries429.length} entries for ${refused} refusals in ${elapsed} s (allowance ${allowance})`);
    const metrics = await requestFrom(s, '127.0.0.3', 'GET', '/metrics', { headers: { Authorization: `Bearer ${s.adminToken}` } });
    const unrecorded = Number(/^zhicheng_audit_unrecorded_total (\d+)$/m.exec(metrics.text)?.[1]);
    assert.ok(unrecorded >= refused - entries429.length, `counted ${unrecorded}, refused ${refused}, written ${entries429.length}`);
  } finally {
    await s.close();
  }
});

// ---------------------------------------------------------------------------------------------
// 10. Offline admin commands respect the data-directory lock
// ---------------------------------------------------------------------------------------------

test('zhicheng admin user add refuses while the server runs, works once it stopped', async () => {
  const s = await startServer();
  try {
    const args = ['admin', '--data', s.dataDir, 'user', 'add', '--login', 'offline-op', '--name', 'Offline',
      '--role', 'viewer', '--tenant', '*:/:r', '--password-stdin'];
    const refused = run(args, `${PASSWORD}\n`);
    assert.notEqual(refused.status, 0, `admin must refuse while the server runs: ${refused.stdout}${refused.stderr}`);
    assert.match(refused.stderr, /in use|stop the server/);
    assertOAuthError(await passwordGrant(s, 'offline-op', PASSWORD), 400, 'invalid_grant', 'user not created while refused');

    const { code } = await s.stop();
    assert.equal(code, 0);
    const added = run(args, `${PASSWORD}\n`);
    assert.equal(added.status, 0, `${added.stdout}${added.stderr}`);

    await s.start();
    const token = await loginToken(s, 'offline-op');
    const me = await s.get('/api/identity/me', { auth: token });
    assert.deepEqual(me.json.roles, ['viewer']);
    assert.equal((await s.get('/v2/entities', { auth: token })).status, 200);
    assertForbidden(await s.post('/v2/entities', { id: 'X', type: 'Y' }, { auth: token }), 'the offline viewer cannot write');
    // The offline change is audited, by the CLI.
    const auditor = await userWithToken(s, 'auditor-2', ['security_auditor']);
    const audit = await s.get('/api/audit?action=user.create&target=offline-op', { auth: auditor });
    assert.equal(audit.json.length, 1, audit.text);
    assert.match(audit.json[0].actor, /^cli:/);
  } finally {
    await s.close();
  }
});
