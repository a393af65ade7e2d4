// HTTPS, security headers and CORS against the real binary: a self-signed certificate made
// with the openssl CLI for this run, the server configured with [tls] and [cors], and
// node's https client trusting exactly that certificate.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startServer, deadline } from './harness.mjs';

const ORIGIN = 'https://dashboard.gaoming.example.gov.cn';
let srv;
let certDir;
let ca;

before(async () => {
  certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zhicheng-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem')], { stdio: 'ignore' });
  ca = fs.readFileSync(path.join(certDir, 'cert.pem'));
  srv = await startServer({
    config: `[tls]\ncert_file = "${certDir}/cert.pem"\nkey_file = "${certDir}/key.pem"\n` +
      `[cors]\nallowed_origins = ["${ORIGIN}"]\n`,
  });
});

after(async () => {
  await srv?.close();
  fs.rmSync(certDir, { recursive: true, force: true });
});

/** One HTTPS request trusting only the test certificate. Resolves {status, headers, text}. */
function httpsRequest(method, target, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: srv.port, method, path: target, headers, ca, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the ready line names https and requests are served over TLS with security headers', async () => {
  assert.match(srv.url, /^https:\/\//);
  const r = await httpsRequest('GET', '/v2/entities', { Authorization: `Bearer ${srv.adminToken}` });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.text, '[]');
  assert.match(r.headers['strict-transport-security'], /max-age=\d+/);
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  assert.equal(r.headers['x-frame-options'], 'DENY');
  assert.equal(r.headers['referrer-policy'], 'no-referrer');
  assert.equal(r.headers['cache-control'], 'no-store');
  const anonymous = await httpsRequest('GET', '/v2/entities');
  assert.equal(anonymous.status, 401);
});

test('a client that does not trust the certificate is refused by the TLS handshake', async () => {
  await assert.rejects(new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: srv.port, path: '/healthz', agent: false }, resolve);
    req.on('error', reject);
    req.end();
  }), /self.signed|certificate/i);
});

test('plain HTTP to the TLS port gets no HTTP answer', async () => {
  const sock = net.connect(srv.port, '127.0.0.1');
  let data = '';
  sock.setEncoding('latin1');
  sock.on('data', (d) => { data += d; });
  sock.on('error', () => {});
  const closed = new Promise((resolve) => sock.on('close', resolve));
  sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  await deadline(closed, 10_000, 'the server kept a plain-HTTP connection open');
  assert.ok(!data.includes('HTTP/1.1 200'), `answered in clear: ${JSON.stringify(data.slice(0, 80))}`);
});

test('CORS: an allowed origin gets a preflight answer and exposed headers; others get none', async () => {
  const pre = await httpsRequest('OPTIONS', '/v2/entities', { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST' });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], ORIGIN);
  assert.match(pre.headers['access-control-allow-methods'], /POST/);
  assert.match(pre.headers['access-control-allow-headers'], /Authorization/);
  const get = await httpsRequest('GET', '/v2/entities', { Origin: ORIGIN, Authorization: `Bearer ${srv.adminToken}` });
  assert.equal(get.headers['access-control-allow-origin'], ORIGIN);
  assert.match(get.headers['access-control-expose-headers'], /Fiware-Total-Count/);
  const other = await httpsRequest('OPTIONS', '/v2/entities', { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' });
  assert.equal(other.headers['access-control-allow-origin'], undefined);
  assert.notEqual(other.status, 204);
});
