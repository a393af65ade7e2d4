// Test harness for Zhicheng's behaviour tests: starts the real binary on a free port with a
// fresh data directory, talks to it over HTTP, and receives its notifications on a real local
// HTTP server. Nothing here waits on time: readiness is the binary's ready line, process exit is
// the 'exit' event, notifications are 'request' events, and conditions that can only be observed
// by asking the server again are polled against a deadline (`eventually`).
//
// Environment:
//   ZHICHENG_BIN        path of the binary (default: <repo>/build/zhicheng)
//   ZHICHENG_KEEP_DATA  when set, data directories are left behind for inspection
//   ZHICHENG_TEST_LOG   when set, the server's stderr is copied to this process's stderr
//
// Authentication is on in the binary: each Server starts with a random admin token
// (ZHICHENG_ADMIN_TOKEN, honoured at the first start of a data directory) and sends it with
// every request unless the request passes `auth: null` (anonymous) or its own token.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
// CI clones the repository with shared/ beside it; tests read real data from there.
export const sharedDir = path.resolve(repoRoot, '..', 'shared');
export const binary = process.env.ZHICHENG_BIN || path.join(repoRoot, 'build', 'zhicheng');

const READY_RE = /^zhicheng listening on (https?:\/\/\S+)\s*$/;
const START_DEADLINE_MS = 30_000;
const STOP_DEADLINE_MS = 15_000;

/** Rejects with `message` unless `promise` settles within `ms`. */
export function deadline(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} (after ${ms} ms)`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Re-evaluates `check` (sync or async) until it returns a truthy value, and returns that value.
 * For conditions that only the server can tell (a subscription's failsCounter); each retry
 * waits for the previous answer plus a short timer tick. Throws with the last value at the
 * deadline.
 */
export async function eventually(check, timeoutMs = 10_000, what = 'condition') {
  const end = Date.now() + timeoutMs;
  let last;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    last = await check();
    if (last) return last;
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** A running (or stopped) Zhicheng process over one data directory. */
export class Server {
  constructor({ dataDir, config, adminToken, env, prefix } = {}) {
    this.dataDir = dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'zhicheng-test-'));
    this.prefix = prefix || [];  // a command that runs the binary, e.g. ['prlimit', '--nofile=600']
    this.adminToken = adminToken === undefined ? `zc_test_${crypto.randomBytes(24).toString('hex')}` : adminToken;
    this.env = env || {};
    this.stdout = '';
    this.configPath = null;
    if (config !== undefined) {
      this.configPath = path.join(this.dataDir, '..', `${path.basename(this.dataDir)}.toml`);
      fs.writeFileSync(this.configPath, config);
    }
    this.proc = null;
    this.url = null;
    this.stderr = '';
  }

  /** Spawns the binary and resolves once it printed its ready line. */
  async start() {
    if (!fs.existsSync(binary)) {
      throw new Error(`binary not found: ${binary} (build it with: make build)`);
    }
    const args = ['serve', '--data', this.dataDir, '--listen', '127.0.0.1:0'];
    if (this.configPath) args.push('--config', this.configPath);
    const env = { ...process.env, ...this.env };
    if (this.adminToken) env.ZHICHENG_ADMIN_TOKEN = this.adminToken;
    else delete env.ZHICHENG_ADMIN_TOKEN;
    const [command, ...commandArgs] = [...this.prefix, binary, ...args];
    const proc = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'], env });
    this.proc = proc;
    this.stderr = '';
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      this.stderr = (this.stderr + chunk).slice(-20_000);
      if (process.env.ZHICHENG_TEST_LOG) process.stderr.write(chunk);
    });
    this.exited = once(proc, 'exit').then(([code, signal]) => ({ code, signal }));
    const ready = new Promise((resolve, reject) => {
      let buffered = '';
      proc.stdout.setEncoding('utf8');
      proc.stdout.on('data', (chunk) => {
        buffered += chunk;
        this.stdout = (this.stdout + chunk).slice(-20_000);
        for (const line of buffered.split('\n')) {
          const m = READY_RE.exec(line);
          if (m) resolve(m[1]);
        }
      });
      proc.on('error', reject);
      this.exited.then(({ code, signal }) =>
        reject(new Error(`zhicheng exited before ready (code ${code}, signal ${signal}):\n${this.stderr}`)));
    });
    this.url = await deadline(ready, START_DEADLINE_MS, `zhicheng did not print its ready line:\n${this.stderr}`);
    const u = new URL(this.url);
    this.host = u.hostname;
    this.port = Number(u.port);
    return this;
  }

  /** SIGTERM; resolves with {code, signal} once the process has exited. */
  async stop() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) {
      return this.proc ? this.exited : { code: null, signal: null };
    }
    this.proc.kill('SIGTERM');
    return deadline(this.exited, STOP_DEADLINE_MS, 'zhicheng did not exit after SIGTERM');
  }

  /** SIGKILL: no chance to flush anything. */
  async kill9() {
    this.proc.kill('SIGKILL');
    return deadline(this.exited, STOP_DEADLINE_MS, 'zhicheng did not die after SIGKILL');
  }

  /** Starts a new process on the same data directory (and config). */
  async restart() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      const { code } = await this.stop();
      if (code !== 0) throw new Error(`zhicheng exited with ${code} on SIGTERM`);
    }
    return this.start();
  }

  /** Stops the process if it runs and removes the data directory. */
  async close() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
    if (!process.env.ZHICHENG_KEEP_DATA) {
      fs.rmSync(this.dataDir, { recursive: true, force: true });
      if (this.configPath) fs.rmSync(this.configPath, { force: true });
    }
  }

  /**
   * fetch-based request. `body` objects are sent as JSON with Content-Type application/json;
   * strings are sent as given (set Content-Type yourself). `auth`: a token to send as
   * bearer (default: the admin token), or null for none. Returns {status, headers, text, json}.
   */
  async request(method, target, { headers = {}, body, auth } = {}) {
    const h = this.#withAuth(headers, auth);
    let payload = body;
    if (body !== undefined && typeof body !== 'string') {
      payload = JSON.stringify(body);
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
    }
    const res = await fetch(this.url + target, { method, headers: h, body: payload });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: parseJson(text) };
  }

  /** `headers` plus the bearer token, unless they carry credentials already. */
  #withAuth(headers, auth) {
    const h = { ...headers };
    const token = auth === undefined ? this.adminToken : auth;
    const has = Object.keys(h).some((k) => ['authorization', 'x-auth-token'].includes(k.toLowerCase()));
    if (token && !has) h.Authorization = `Bearer ${token}`;
    return h;
  }

  get(target, opts) { return this.request('GET', target, opts); }
  post(target, body, opts = {}) { return this.request('POST', target, { ...opts, body }); }
  patch(target, body, opts = {}) { return this.request('PATCH', target, { ...opts, body }); }
  put(target, body, opts = {}) { return this.request('PUT', target, { ...opts, body }); }
  del(target, opts) { return this.request('DELETE', target, opts); }

  /**
   * node:http request with exactly the headers given (no implicit Content-Type); used by the
   * case runner. Resolves on the response even if the server closes the connection while the
   * body is still being written (413).
   */
  rawRequest(method, target, { headers = {}, body, auth } = {}) {
    return new Promise((resolve, reject) => {
      const req = http.request({
        host: this.host, port: this.port, method, path: target, headers: this.#withAuth(headers, auth), agent: false,
      });
      let answered = false;
      req.on('response', (res) => {
        answered = true;
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode, headers: new Headers(flatHeaders(res.headers)), text, json: parseJson(text) });
        });
        res.on('error', reject);
      });
      req.on('error', (err) => { if (!answered) reject(err); });
      if (body !== undefined) req.write(body);
      req.end();
    });
  }
}

function flatHeaders(h) {
  const out = [];
  for (const [k, v] of Object.entries(h)) {
    for (const one of Array.isArray(v) ? v : [v]) out.push([k, String(one)]);
  }
  return out;
}

export function parseJson(text) {
  if (text === undefined || text === '') return undefined;
  try { return JSON.parse(text); } catch { return undefined; }
}

/** Starts a server on a fresh data directory. `config` is TOML text for --config. */
export async function startServer(opts = {}) {
  const s = new Server(opts);
  try {
    await s.start();
  } catch (err) {
    await s.close();
    throw err;
  }
  return s;
}

/**
 * A local HTTP server that records every request it gets (the notification receiver).
 * `respond(req)` may return {status, headers, body} or 'hang' (never answer). With
 * `tls: {key, cert}` it is an HTTPS server; `connections` counts the TCP connections it
 * accepted (a client that refuses the certificate connects but sends no request).
 */
export class Receiver {
  constructor({ respond, tls } = {}) {
    this.requests = [];
    this.respond = respond || (() => ({ status: 200 }));
    this.waiters = [];
    this.hanging = [];
    this.connections = 0;
    this.scheme = tls ? 'https' : 'http';
    const onRequest = (req, res) => this.#onRequest(req, res);
    this.server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest);
    this.server.on('connection', () => { this.connections++; });
    // A client that refuses the certificate aborts the handshake: expected in TLS tests.
    if (tls) this.server.on('tlsClientError', () => {});
  }

  async start() {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = this.server.address().port;
    this.url = `${this.scheme}://127.0.0.1:${this.port}`;
    return this;
  }

  #onRequest(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const u = new URL(req.url, this.url);
      const record = {
        method: req.method, url: req.url, path: u.pathname, query: Object.fromEntries(u.searchParams),
        headers: req.headers, text, json: parseJson(text), at: Date.now(),
      };
      this.requests.push(record);
      const answer = this.respond(record);
      if (answer === 'hang') {
        this.hanging.push(res);
      } else {
        res.writeHead(answer.status || 200, answer.headers || {});
        res.end(answer.body || '');
      }
      for (const w of [...this.waiters]) {
        if (w.predicate(record)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(record);
        }
      }
    });
  }

  /** Requests received so far that match `predicate`. */
  matching(predicate = () => true) { return this.requests.filter(predicate); }

  /** Resolves with the first recorded (past or future) request matching `predicate`. */
  waitFor(predicate = () => true, timeoutMs = 10_000) {
    const seen = this.requests.find(predicate);
    if (seen) return Promise.resolve(seen);
    let waiter;
    const p = new Promise((resolve) => { waiter = { predicate, resolve }; this.waiters.push(waiter); });
    return deadline(p, timeoutMs, 'no matching notification arrived').catch((err) => {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      err.message += `; received: ${JSON.stringify(this.requests.map((r) => [r.method, r.url, r.text.slice(0, 200)]))}`;
      throw err;
    });
  }

  async close() {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections?.();
    this.server.close();
  }
}

export async function startReceiver(opts) {
  return new Receiver(opts).start();
}

/**
 * Runs `zhicheng serve` with `config` (TOML text) on a fresh directory and expects it to refuse
 * to start. Returns {status, stdout, stderr}.
 */
export function refusedStart(config) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zhicheng-config-'));
  try {
    const file = path.join(dir, 'zhicheng.toml');
    fs.writeFileSync(file, config);
    const r = spawnSync(binary, ['serve', '--data', path.join(dir, 'data'), '--listen', '127.0.0.1:0', '--config', file],
      { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 20_000 });
    if (r.error?.code === 'ETIMEDOUT') assert.fail(`the server started with:\n${config}\nstdout: ${r.stdout}`);
    if (r.error) throw r.error;
    assert.notEqual(r.status, 0, `the server exited 0 with:\n${config}`);
    assert.doesNotMatch(r.stdout, /zhicheng listening on/, `the server got ready with:\n${config}`);
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The value of an unlabelled series in `srv`'s /metrics (fails when the series is absent). */
export async function metric(srv, name) {
  const r = await srv.get('/metrics');
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(r.text);
  assert.ok(m, `${name} in /metrics`);
  return Number(m[1]);
}

/** A loopback port on which nothing listens (a dead notification receiver). */
export async function deadPort() {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  await once(s, 'close');
  return port;
}

/** Parses a CSV line with double-quoted fields (no embedded newlines). */
export function parseCsvLine(line) {
  const out = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') quoted = false; else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { out.push(cur); cur = ''; } else cur += c;
  }
  out.push(cur);
  return out;
}

/**
 * The first `n` hourly rows of the real Beijing (Aotizhongxin) air-quality record as NGSI
 * AirQualityObserved entities `AQ-0` … with pm25, pm10, no2, temperature (Number), windDirection
 * (Text), dateObserved (DateTime, the row's hour in China Standard Time) and a location spread
 * around Gaoming, Foshan (22.90N 112.88E, 0.01° east per row).
 */
export function beijingAirQuality(n) {
  const file = path.join(sharedDir, 'data', 'real', 'beijing-multisite-aq', 'PRSA_Data_Aotizhongxin_20130301-20170228.csv');
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const head = parseCsvLine(lines[0]);
  const col = (row, name) => row[head.indexOf(name)];
  const num = (v) => (v === 'NA' || v === '' ? null : Number(v));
  const out = [];
  for (let i = 0; i < n; i++) {
    const r = parseCsvLine(lines[1 + i]);
    const pad = (v) => String(v).padStart(2, '0');
    const when = new Date(`${col(r, 'year')}-${pad(col(r, 'month'))}-${pad(col(r, 'day'))}T${pad(col(r, 'hour'))}:00:00+08:00`);
    out.push({
      id: `AQ-${i}`,
      type: 'AirQualityObserved',
      pm25: { type: 'Number', value: num(col(r, 'PM2.5')) },
      pm10: { type: 'Number', value: num(col(r, 'PM10')) },
      no2: { type: 'Number', value: num(col(r, 'NO2')) },
      temperature: { type: 'Number', value: num(col(r, 'TEMP')) },
      windDirection: { type: 'Text', value: col(r, 'wd') },
      dateObserved: { type: 'DateTime', value: when.toISOString() },
      location: { type: 'geo:json', value: { type: 'Point', coordinates: [Number((112.88 + 0.01 * i).toFixed(2)), 22.9] } },
    });
  }
  return out;
}

/**
 * The first `n` daily river levels (relative metres) of the real Dutch record in
 * rain-river-nl/nb5_riv.csv, as numbers.
 */
export function riverLevels(n) {
  const file = path.join(sharedDir, 'data', 'real', 'rain-river-nl', 'nb5_riv.csv');
  const lines = fs.readFileSync(file, 'utf8').split('\n').slice(1, 1 + n);
  return lines.map((line) => Number(parseCsvLine(line)[1]));
}
