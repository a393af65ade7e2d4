// Operations endpoints: /healthz, /readyz, /metrics (Prometheus text), /version, and
// QuantumLeap's /ql/version and /ql/health.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, refusedStart } from './harness.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.close(); });

test('/healthz and /readyz answer 200 once ready', async () => {
  const h = await srv.get('/healthz');
  assert.equal(h.status, 200, h.text);
  const r = await srv.get('/readyz');
  assert.equal(r.status, 200, r.text);
});

test('/version names the version', async () => {
  const r = await srv.get('/version');
  assert.equal(r.status, 200);
  assert.match(r.text, /\d+\.\d+\.\d+/);
});

test('QuantumLeap\'s /version and /health answer under /ql, without a token as in QuantumLeap', async () => {
  const v = await srv.get('/ql/version', { auth: null });
  assert.equal(v.status, 200, v.text);
  assert.match(v.json.version, /^\d+\.\d+\.\d+$/);
  assert.match(v.json.zhicheng, /^\d+\.\d+\.\d+$/);
  const h = await srv.get('/ql/health', { auth: null });
  assert.equal(h.status, 200, h.text);
  assert.deepEqual(h.json, { status: 'pass' });
  const history = await srv.get('/ql/v2/entities', { auth: null });
  assert.equal(history.status, 401, 'the history itself still needs a token');
});

function sample(text, name, labels = {}) {
  // Sums the samples of `name` whose labels include `labels`.
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[^"}]|"(?:[^"\\]|\\.)*")*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = Object.fromEntries([...(m[3] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => ls[k] === v)) { total += Number(m[4]); found = true; }
  }
  return found ? total : undefined;
}

test('/metrics is Prometheus text with request counts and the entity count', async () => {
  const entities = Array.from({ length: 7 }, (_, i) => ({ id: `M-${i}`, type: 'Metered', n: i }));
  const w = await srv.post('/v2/op/update?options=keyValues', { actionType: 'append', entities });
  assert.equal(w.status, 204);
  const before1 = await srv.get('/metrics');
  assert.equal(before1.status, 200);
  assert.match(before1.headers.get('content-type'), /^text\/plain/);
  assert.match(before1.text, /^# (HELP|TYPE) zhicheng_http_requests_total/m);
  assert.match(before1.text, /^# TYPE zhicheng_http_requests_total counter$/m);
  assert.equal(sample(before1.text, 'zhicheng_entities'), 7);
  const n404 = sample(before1.text, 'zhicheng_http_requests_total', { status: '404' }) ?? 0;
  for (let i = 0; i < 3; i++) assert.equal((await srv.get('/v2/entities/Nope')).status, 404);
  const after1 = await srv.get('/metrics');
  assert.equal(sample(after1.text, 'zhicheng_http_requests_total', { status: '404' }), n404 + 3);
  // A latency histogram exists.
  assert.match(after1.text, /^# TYPE \S+ histogram$/m);
  assert.match(after1.text, /_bucket\{[^}]*le="\+Inf"[^}]*\} \d+/);
  // Deleting changes the gauge.
  assert.equal((await srv.del('/v2/entities/M-0')).status, 204);
  const after2 = await srv.get('/metrics');
  assert.equal(sample(after2.text, 'zhicheng_entities'), 6);
  // Per tenant, with the limit beside it, so that an alert can watch a tenant near it.
  const metered = { 'Fiware-Service': 'metered' };
  const two = [{ id: 'T-1', type: 'Metered' }, { id: 'T-2', type: 'Metered' }];
  assert.equal((await srv.post('/v2/op/update?options=keyValues', { actionType: 'append', entities: two }, { headers: metered })).status, 204);
  const after3 = await srv.get('/metrics');
  assert.equal(sample(after3.text, 'zhicheng_tenant_entities', { tenant: 'metered' }), 2);
  assert.equal(sample(after3.text, 'zhicheng_tenant_entities', { tenant: '' }), 6, 'the default tenant');
  assert.equal(sample(after3.text, 'zhicheng_max_entities_per_tenant'), 5000000);
});

test('a query that visits more than 4096 entities is run again off the I/O thread and answers the same', async () => {
  const tenant = { 'Fiware-Service': 'scans' };
  const tenantsBefore = sample((await srv.get('/metrics')).text, 'zhicheng_tenants');
  // A write that fails creates no tenant state.
  const missing = await srv.request('PATCH', '/v2/entities/Nope/attrs', { headers: { 'Fiware-Service': 'made_up' }, body: { n: { value: 1 } } });
  assert.equal(missing.status, 404);
  assert.equal(sample((await srv.get('/metrics')).text, 'zhicheng_tenants'), tenantsBefore);
  for (let batch = 0; batch < 5; batch++) {
    const entities = Array.from({ length: 1000 }, (_, i) => ({ id: `L-${batch * 1000 + i}`, type: i % 2 ? 'Odd' : 'Even', n: batch * 1000 + i }));
    const w = await srv.post('/v2/op/update?options=keyValues', { actionType: 'append', entities }, { headers: tenant });
    assert.equal(w.status, 204, w.text);
  }
  assert.equal(sample((await srv.get('/metrics')).text, 'zhicheng_tenants'), tenantsBefore + 1);
  const givenUp = async () => sample((await srv.get('/metrics')).text, 'zhicheng_context_queries_given_up_total');
  const before = await givenUp();
  // Indexed and early-ending queries stay where they are.
  const first = await srv.get('/v2/entities?type=Odd&limit=3&options=keyValues', { headers: tenant });
  assert.deepEqual(first.json.map((e) => e.n), [1, 3, 5]);
  assert.equal(await givenUp(), before);
  // A scan of all 5000: given up at 4096 visits and answered from the pool.
  const last = await srv.get('/v2/entities?q=n>4996&options=keyValues,count', { headers: tenant });
  assert.equal(last.status, 200, last.text);
  assert.deepEqual(last.json.map((e) => e.id), ['L-4997', 'L-4998', 'L-4999']);
  assert.equal(last.headers.get('fiware-total-count'), '3');
  const none = await srv.get('/v2/entities?idPattern=^nothing', { headers: tenant });
  assert.deepEqual(none.json, []);
  const query = await srv.post('/v2/op/query?options=count&limit=2', { expression: { q: 'n>=4990' } }, { headers: tenant });
  assert.equal(query.status, 200, query.text);
  assert.deepEqual(query.json.map((e) => e.n.value), [4990, 4991]);
  assert.equal(query.headers.get('fiware-total-count'), '10');
  const bad = await srv.get('/v2/entities?q=n>4996&options=keyValues&limit=0', { headers: tenant });
  assert.equal(bad.status, 400);
  assert.equal(await givenUp(), before + 3);
});

test('unknown operations paths are 404', async () => {
  const r = await srv.get('/healthzz');
  assert.equal(r.status, 404);
});

test('a configuration value of the wrong type refuses the start and names the key', () => {
  const cases = [
    ['[http]\naccess_log = "no"\n', '[http] access_log must be true or false'],
    ['[context]\nhistory = 0\n', '[context] history must be true or false'],
    ['[security]\nauthentication = "false"\n', '[security] authentication must be true or false'],
    ['[server]\nlisten = 8080\n', '[server] listen must be a string'],
    ['[tls]\ncert_file = 1\nkey_file = "k.pem"\n', '[tls] cert_file must be a string'],
    ['[http]\nmax_body_bytes = "1MiB"\n', 'max_body_bytes must be a non-negative integer'],
    ['[http]\nmax_bodybytes = 1\n', 'unknown configuration key [http] max_bodybytes'],
    ['[http]\nmax_body_bytes = 2000000\nmax_response_bytes = 1048576\n', '[http] max_response_bytes must be at least max_body_bytes (2000000)'],
    ['[http]\nmax_long_queries = 0\n', '[http] max_long_queries must be at least 1'],
    ['[http]\nmax_pending_response_bytes = 1048576\n', '[http] max_pending_response_bytes must be at least max_response_bytes (33554432)'],
    ['[http]\nmax_pending_request_bytes = 65536\n', '[http] max_pending_request_bytes must be at least max_body_bytes (1048576)'],
    ['[http]\nmax_connections_per_address = -1\n', 'max_connections_per_address must be a non-negative integer'],
    ['[context]\nmax_attributes_per_entity = 0\n', '[context] max_attributes_per_entity must be at least 1'],
    ['[context]\nmax_entity_bytes = 1000\n', '[context] max_entity_bytes must be at least 1024'],
    ['[context]\nmax_entities_per_tenant = -1\n', 'max_entities_per_tenant must be a non-negative integer'],
    ['[notifications]\nmax_waiting_per_entity = 0\n', '[notifications] max_waiting_per_entity must be at least 1'],
    ['[notifications]\nmax_in_flight = 0\n', '[notifications] max_in_flight must be at least 1'],
    ['[notifications]\nmax_in_progress = 0\n', '[notifications] max_in_progress must be at least 1'],
    ['[notifications]\nmax_in_flight_per_receiver = 0\n', '[notifications] max_in_flight_per_receiver must be at least 1'],
    ['[notifications]\nallowed_networks = ["10.0.0.0/33"]\n', "[notifications] allowed_networks: '10.0.0.0/33' is not an IP address or a network"],
    ['[http]\ntrusted_proxies = ["10.0.0.0/33"]\n', "[http] trusted_proxies: '10.0.0.0/33' is not an IP address or a network"],
    ['[audit]\nretention_days = 30\n', '[audit] retention_days must be 0 (keep every entry in the live log) or at least 180'],
    ['[audit]\narchive_dir = 5\n', '[audit] archive_dir must be a string'],
  ];
  for (const [config, message] of cases) {
    const r = refusedStart(config);
    assert.ok(r.stderr.includes(message), `${JSON.stringify(config)}: stderr ${r.stderr}`);
  }
});
