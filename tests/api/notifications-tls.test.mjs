// Notifications delivered to https:// URLs, against the real binary. Certificates are made with
// the openssl CLI for this run, and the receivers are harness.mjs's Receiver over TLS:
//   - the main receiver serves cert.pem (SAN IP:127.0.0.1, DNS:localhost);
//   - the "wrong name" receiver serves other.pem (SAN DNS:sensors.elsewhere.example only), a
//     certificate the trusted bundle contains but whose names do not match 127.0.0.1.
// Three servers differ only in [notifications]: one trusts the bundle (ca_file), one has the
// default configuration (system trust store only) and one does not verify certificates.
// Failures are read back from GET /v2/subscriptions/{id} with `eventually`: a failed handshake
// is retried twice (200 ms, 400 ms) before it counts, so nothing here sleeps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, startReceiver, eventually, refusedStart } from './harness.mjs';

let certDir;
let bundlePath;
let srvCa; // [notifications] ca_file = bundle (other.pem first, cert.pem second)
let srvDefault; // no [notifications] section: system trust store only
let srvInsecure; // [notifications] verify_certificates = false
let rx; // HTTPS receiver with cert.pem
let rxWrongName; // HTTPS receiver with other.pem (trusted by the bundle, names do not match)
let rxRejected; // HTTPS receiver with cert.pem, used only by the default server's test

function makeCert(name, subject, san) {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', subject, '-addext', `subjectAltName=${san}`,
    '-keyout', path.join(certDir, `${name}-key.pem`), '-out', path.join(certDir, `${name}.pem`)], { stdio: 'ignore' });
  return {
    key: fs.readFileSync(path.join(certDir, `${name}-key.pem`)),
    cert: fs.readFileSync(path.join(certDir, `${name}.pem`)),
  };
}

before(async () => {
  certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zhicheng-notif-tls-'));
  const main = makeCert('cert', '/CN=localhost', 'IP:127.0.0.1,DNS:localhost');
  const other = makeCert('other', '/CN=sensors.elsewhere.example', 'DNS:sensors.elsewhere.example');
  // The receiver's certificate is the second one of the bundle: every certificate of ca_file
  // must be trusted, not only the first.
  bundlePath = path.join(certDir, 'bundle.pem');
  fs.writeFileSync(bundlePath, Buffer.concat([other.cert, main.cert]));

  rx = await startReceiver({ tls: main });
  rxWrongName = await startReceiver({ tls: other });
  rxRejected = await startReceiver({ tls: main });
  // Each server is assigned as soon as it runs, so that `after` closes it even if another failed.
  const starts = [
    startServer({ config: `[notifications]\nca_file = "${bundlePath}"\n` }).then((s) => { srvCa = s; }),
    startServer().then((s) => { srvDefault = s; }),
    startServer({ config: '[notifications]\nverify_certificates = false\n' }).then((s) => { srvInsecure = s; }),
  ];
  const failed = (await Promise.allSettled(starts)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
});

after(async () => {
  await Promise.all([srvCa?.close(), srvDefault?.close(), srvInsecure?.close()]);
  await Promise.all([rx?.close(), rxWrongName?.close(), rxRejected?.close()]);
  if (certDir) fs.rmSync(certDir, { recursive: true, force: true });
});

async function subscribe(srv, body, headers = {}) {
  const res = await srv.post('/v2/subscriptions', body, { headers });
  assert.equal(res.status, 201, `subscription create: ${res.status} ${res.text}`);
  const loc = res.headers.get('location');
  assert.match(loc, /^\/v2\/subscriptions\/[^/]+$/);
  return loc.split('/').pop();
}

async function create(srv, entity, headers = {}) {
  const res = await srv.post('/v2/entities', entity, { headers });
  assert.equal(res.status, 201, `create ${entity.id}: ${res.status} ${res.text}`);
}

async function patchKv(srv, id, attrs, headers = {}) {
  const res = await srv.patch(`/v2/entities/${encodeURIComponent(id)}/attrs?options=keyValues`, attrs, { headers });
  assert.equal(res.status, 204, `patch ${id}: ${res.status} ${res.text}`);
}

/** GET the subscription until `check(sub)` holds; returns the subscription. */
function subscriptionWhen(srv, sid, check, what, headers = {}) {
  return eventually(async () => {
    const r = await srv.get(`/v2/subscriptions/${sid}`, { headers });
    assert.equal(r.status, 200, `GET subscription ${sid}: ${r.text}`);
    return check(r.json) && r.json;
  }, 15_000, what);
}

/** Asserts the subscription's last notification failed on the certificate. */
async function assertCertificateFailure(srv, sid) {
  const sub = await subscriptionWhen(srv, sid, (s) => s.notification?.failsCounter >= 1, 'failsCounter >= 1');
  assert.ok(sub.notification.timesSent >= 1, `timesSent ${sub.notification.timesSent}`);
  assert.match(sub.notification.lastFailure, /^\d{4}-\d{2}-\d{2}T/);
  assert.equal(typeof sub.notification.lastFailureReason, 'string');
  assert.match(sub.notification.lastFailureReason, /certificate/i);
  assert.equal(sub.notification.lastSuccess, undefined);
  assert.equal(sub.status, 'failed');
  return sub;
}

const GAOMING = { 'Fiware-Service': 'gaoming', 'Fiware-ServicePath': '/hecheng' };

test('https notification with a ca_file: delivered over TLS, normalized, with NGSI headers and success statistics', async () => {
  const url = `${rx.url}/tls-normalized`;
  const sid = await subscribe(srvCa, {
    subject: { entities: [{ id: 'Gauge-tls-1', type: 'WaterLevelGauge' }] },
    notification: { http: { url } },
  }, GAOMING);
  await create(srvCa, { id: 'Gauge-tls-1', type: 'WaterLevelGauge', level: { type: 'Number', value: 1.5 } }, GAOMING);
  await patchKv(srvCa, 'Gauge-tls-1', { level: 3.2 }, GAOMING);
  const n = await rx.waitFor((r) => r.path === '/tls-normalized' && r.json?.data?.[0]?.level?.value === 3.2);
  assert.equal(n.method, 'POST');
  assert.match(n.headers['content-type'], /application\/json/);
  assert.equal(n.headers['fiware-service'], 'gaoming');
  assert.equal(n.headers['fiware-servicepath'], '/hecheng');
  assert.equal(n.headers['ngsiv2-attrsformat'], 'normalized');
  assert.equal(n.json.subscriptionId, sid);
  assert.deepEqual(n.json.data, [{ id: 'Gauge-tls-1', type: 'WaterLevelGauge', level: { type: 'Number', value: 3.2, metadata: {} } }]);

  const sub = await subscriptionWhen(srvCa, sid, (s) => s.notification?.lastSuccess, 'lastSuccess', GAOMING);
  assert.equal(sub.notification.http.url, url);
  assert.ok(sub.notification.timesSent >= 1, `timesSent ${sub.notification.timesSent}`);
  assert.match(sub.notification.lastSuccess, /^\d{4}-\d{2}-\d{2}T/);
  assert.equal(sub.notification.lastSuccessCode, 200);
  assert.equal(sub.notification.lastFailure, undefined);
  assert.equal(sub.notification.failsCounter ?? 0, 0);
  assert.equal(sub.status, 'active');
});

test('httpCustom to an https url: delivered with the custom header', async () => {
  const sid = await subscribe(srvCa, {
    subject: { entities: [{ id: 'Gauge-tls-2', type: 'WaterLevelGaugeCustom' }] },
    notification: { httpCustom: { url: `${rx.url}/tls-custom`, headers: { 'X-City': 'gaoming' } } },
  });
  await create(srvCa, { id: 'Gauge-tls-2', type: 'WaterLevelGaugeCustom', level: { type: 'Number', value: 0.5 } });
  await patchKv(srvCa, 'Gauge-tls-2', { level: 4.7 });
  const n = await rx.waitFor((r) => r.path === '/tls-custom' && r.json?.data?.[0]?.level?.value === 4.7);
  assert.equal(n.method, 'POST');
  assert.equal(n.headers['x-city'], 'gaoming');
  assert.equal(n.headers['fiware-service'], undefined);
  assert.equal(n.json.subscriptionId, sid);
  assert.equal(n.json.data[0].id, 'Gauge-tls-2');
});

test('a certificate trusted by ca_file but naming another host fails verification', async () => {
  const sid = await subscribe(srvCa, {
    subject: { entities: [{ id: 'Gauge-tls-name', type: 'WaterLevelGaugeName' }] },
    notification: { http: { url: `${rxWrongName.url}/tls-wrong-name` } },
  });
  await create(srvCa, { id: 'Gauge-tls-name', type: 'WaterLevelGaugeName', level: { type: 'Number', value: 1 } });
  await patchKv(srvCa, 'Gauge-tls-name', { level: 2 });
  await assertCertificateFailure(srvCa, sid);
  assert.ok(rxWrongName.connections >= 1, 'the server never connected to the receiver');
  assert.equal(rxWrongName.matching((r) => r.path === '/tls-wrong-name').length, 0,
    'a request went through although 127.0.0.1 is not among the certificate\'s names');
});

test('without ca_file an https url is accepted but delivery fails on the self-signed certificate', async () => {
  const sid = await subscribe(srvDefault, {
    subject: { entities: [{ id: 'Gauge-tls-3', type: 'WaterLevelGaugeUntrusted' }] },
    notification: { http: { url: `${rxRejected.url}/tls-untrusted` } },
  });
  await create(srvDefault, { id: 'Gauge-tls-3', type: 'WaterLevelGaugeUntrusted', level: { type: 'Number', value: 1 } });
  await patchKv(srvDefault, 'Gauge-tls-3', { level: 2.4 });
  await assertCertificateFailure(srvDefault, sid);
  // The failure is the TLS handshake with this receiver, not a refusal to connect.
  assert.ok(rxRejected.connections >= 1, 'the server never connected to the receiver');
  assert.deepEqual(rxRejected.requests, [], 'the receiver got a request over an unverified connection');
});

test('verify_certificates = false accepts any certificate', async () => {
  await subscribe(srvInsecure, {
    subject: { entities: [{ id: 'Gauge-tls-4', type: 'WaterLevelGaugeInsecure' }] },
    notification: { http: { url: `${rx.url}/tls-insecure` }, attrsFormat: 'keyValues' },
  });
  // Untrusted and naming another host: accepted too.
  await subscribe(srvInsecure, {
    subject: { entities: [{ id: 'Gauge-tls-4', type: 'WaterLevelGaugeInsecure' }] },
    notification: { http: { url: `${rxWrongName.url}/tls-insecure-wrong-name` }, attrsFormat: 'keyValues' },
  });
  await create(srvInsecure, { id: 'Gauge-tls-4', type: 'WaterLevelGaugeInsecure', level: { type: 'Number', value: 1 } });
  await patchKv(srvInsecure, 'Gauge-tls-4', { level: 5.1 });
  const n = await rx.waitFor((r) => r.path === '/tls-insecure' && r.json?.data?.[0]?.level === 5.1);
  assert.equal(n.method, 'POST');
  assert.deepEqual(n.json.data, [{ id: 'Gauge-tls-4', type: 'WaterLevelGaugeInsecure', level: 5.1 }]);
  const w = await rxWrongName.waitFor((r) => r.path === '/tls-insecure-wrong-name' && r.json?.data?.[0]?.level === 5.1);
  assert.deepEqual(w.json.data, [{ id: 'Gauge-tls-4', type: 'WaterLevelGaugeInsecure', level: 5.1 }]);
});

test('config: verify_certificates of the wrong type or a missing ca_file refuse the start', () => {
  const wrongType = refusedStart('[notifications]\nverify_certificates = "no"\n');
  assert.match(wrongType.stderr, /verify_certificates/);
  assert.doesNotMatch(wrongType.stderr, /unknown configuration key/, 'verify_certificates is a known key');

  const missing = path.join(certDir, 'no-such-ca.pem');
  const noFile = refusedStart(`[notifications]\nca_file = "${missing}"\n`);
  assert.match(noFile.stderr, /ca_file/);
  assert.doesNotMatch(noFile.stderr, /unknown configuration key/, 'ca_file is a known key');
});
