// Crash consistency under load: concurrent clients write (PATCH, PUT of a value, op/update
// batches, creates, deletes, a history deletion) while the server is killed with SIGKILL in
// the middle of the traffic, several times over one data directory. After each restart:
//   - every write acknowledged with 2xx is there, and no value appears that was never sent;
//   - a batch whose answer was lost applied to all of its entities or to none;
//   - every acknowledged value is in the history, in order, with strictly increasing times,
//     except what an acknowledged history deletion removed;
//   - an acknowledged create exists, an acknowledged delete stays deleted.
// Each client owns its entities and sends one request at a time, so for each attribute the
// values it sends increase, and at a kill at most one request per client is in doubt.
// The kill comes after a number of acknowledged writes drawn from a seeded generator
// (CRASH_SEED reproduces a run), never after a timer. `document_delay_seconds = 1` makes the
// deferred entity documents get stored during the run as well as replayed after the kill.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './harness.mjs';

const CLIENTS = 12;
const ENTITIES_PER_CLIENT = 4;
const CYCLES = 5;
const TENANT = 'crashtest';
const CONFIG = `[security]
rate_per_token = 0
rate_per_address = 0
[context]
document_delay_seconds = 1
`;

/** mulberry32: a small seeded generator, so that a failing run can be repeated. */
function generator(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What one client sent and what it got acknowledged, per attribute and per entity. */
class Ledger {
  constructor(client) {
    this.client = client;
    this.path = `/w${client % 3}`;
    this.headers = { 'Fiware-Service': TENANT, 'Fiware-ServicePath': this.path };
    this.sensors = Array.from({ length: ENTITIES_PER_CLIENT }, (_, e) => `Sensor-${client}-${e}`);
    // `${id}/${attr}` -> {sent: the last value sent, acked: the values acknowledged, in order,
    // erased: values that must be absent from the history (an acknowledged deletion removed
    // them), loose: values that may be absent (a deletion whose answer the kill took)}.
    this.attrs = new Map();
    for (const id of this.sensors) {
      for (const a of ['a', 'b']) this.attrs.set(`${id}/${a}`, { sent: 0, acked: [0], erased: new Set(), loose: new Set() });
    }
    this.temps = new Map(); // id -> 'created' | 'maybe-created' | 'deleted' | 'maybe-deleted'
    this.nextTemp = 0;
    this.inDoubt = null; // the request whose answer the kill took: {kind, writes: [[key, value]]}
  }

  send(key) { const s = this.attrs.get(key); s.sent += 1; return s.sent; }
  ack(writes) { for (const [key, v] of writes) this.attrs.get(key).acked.push(v); }
}

/** One client's next request, drawn from `rand`: {kind, method, target, body, writes, ...}. */
function nextRequest(ledger, rand) {
  const r = rand();
  const id = ledger.sensors[Math.floor(rand() * ledger.sensors.length)];
  const path = `/v2/entities/${id}/attrs`;
  if (r < 0.45) {
    const attrs = rand() < 0.7 ? ['a'] : ['a', 'b'];
    const writes = attrs.map((a) => [`${id}/${a}`, ledger.send(`${id}/${a}`)]);
    const body = Object.fromEntries(writes.map(([k, v]) => [k.split('/')[1], v]));
    return { kind: 'patch', method: 'PATCH', target: `${path}?options=keyValues`, body, writes };
  }
  if (r < 0.55) {
    const key = `${id}/b`;
    const v = ledger.send(key);
    return { kind: 'value', method: 'PUT', target: `${path}/b/value`, body: String(v), contentType: 'text/plain', writes: [[key, v]] };
  }
  if (r < 0.72) {
    const writes = ledger.sensors.map((s) => [`${s}/a`, ledger.send(`${s}/a`)]);
    const entities = writes.map(([k, v]) => ({ id: k.split('/')[0], type: 'Sensor', a: v }));
    return { kind: 'batch', method: 'POST', target: '/v2/op/update?options=keyValues', body: { actionType: 'update', entities }, writes };
  }
  const live = [...ledger.temps].filter(([, s]) => s === 'created').map(([t]) => t);
  if (r < 0.86 || (live.length === 0 && r < 0.995)) {
    const temp = `Temp-${ledger.client}-${ledger.nextTemp++}`;
    return { kind: 'create', method: 'POST', target: '/v2/entities?options=keyValues', body: { id: temp, type: 'Temp', t: ledger.nextTemp }, temp, writes: [] };
  }
  if (r < 0.995) {
    const temp = live[Math.floor(rand() * live.length)];
    return { kind: 'delete', method: 'DELETE', target: `/v2/entities/${temp}`, temp, writes: [] };
  }
  return { kind: 'erase', method: 'DELETE', target: `/ql/v2/entities/${id}`, id, writes: [] };
}

// A history deletion finds nothing (404) when an earlier one took it all and nothing came since.
const EXPECTED = { patch: [204], value: [204], batch: [204], create: [201], delete: [204], erase: [204, 404] };

/** Records what an acknowledged request changed. */
function acknowledge(ledger, req) {
  ledger.ack(req.writes);
  if (req.kind === 'create') ledger.temps.set(req.temp, 'created');
  if (req.kind === 'delete') ledger.temps.set(req.temp, 'deleted');
  // Everything acknowledged before a history deletion was sent is gone from the history (the
  // client sends nothing else meanwhile).
  if (req.kind === 'erase') markErased(ledger, req.id, 'erased');
}

function markErased(ledger, id, how) {
  for (const [key, s] of ledger.attrs) {
    if (key.startsWith(`${id}/`)) for (const v of s.acked) s[how].add(v);
  }
}

/** Runs one client until the server dies under it; the request the kill took stays in doubt. */
async function runClient(srv, ledger, rand, progress) {
  for (;;) {
    const req = nextRequest(ledger, rand);
    if (req.kind === 'create') ledger.temps.set(req.temp, 'maybe-created');
    if (req.kind === 'delete') ledger.temps.set(req.temp, 'maybe-deleted');
    const headers = { ...ledger.headers };
    if (req.contentType) headers['Content-Type'] = req.contentType;
    let res;
    try {
      res = await srv.request(req.method, req.target, { headers, body: req.body });
    } catch (err) {
      if (!progress.killing) throw err;
      ledger.inDoubt = req;
      if (req.kind === 'erase') markErased(ledger, req.id, 'loose');
      return;
    }
    assert.ok(EXPECTED[req.kind].includes(res.status), `${req.method} ${req.target}: ${res.status} ${res.text}`);
    acknowledge(ledger, req);
    progress.acknowledged += 1;
    // SIGKILL in the same tick as the answer that reached the count: the writes acknowledged
    // last are the ones a server that answered before its commit would lose.
    if (progress.acknowledged >= progress.killAt && !progress.killing) {
      progress.killing = true;
      progress.reached(srv.kill9());
    }
  }
}

/** The current values of the tenant's Sensor entities: id -> {a, b}. */
async function currentSensors(srv) {
  const r = await srv.get('/v2/entities?type=Sensor&limit=1000&options=keyValues&attrs=a,b', { headers: { 'Fiware-Service': TENANT } });
  assert.equal(r.status, 200, r.text);
  return new Map(r.json.map((e) => [e.id, e]));
}

async function currentTemps(srv) {
  const r = await srv.get('/v2/entities?type=Temp&limit=1000&options=keyValues,count&attrs=t', { headers: { 'Fiware-Service': TENANT } });
  assert.equal(r.status, 200, r.text);
  assert.ok(Number(r.headers.get('fiware-total-count')) <= 1000, 'every temporary entity fits in one page');
  return new Set(r.json.map((e) => e.id));
}

/** Checks one client's attributes against the server's current state. */
function checkCurrent(ledger, sensors) {
  const doubt = new Map((ledger.inDoubt?.writes ?? []).map(([k, v]) => [k, v]));
  const applied = new Set();
  for (const [key, s] of ledger.attrs) {
    const [id, attr] = key.split('/');
    const stored = sensors.get(id)?.[attr];
    const acked = s.acked.at(-1);
    if (stored === acked) continue;
    assert.equal(stored, doubt.get(key), `${key}: stored ${stored}, last acknowledged ${acked}, in doubt ${doubt.get(key)}`);
    applied.add(key);
    s.acked.push(stored); // the server has it now: later checks treat it as acknowledged
  }
  if (ledger.inDoubt?.kind === 'batch') {
    assert.ok(applied.size === 0 || applied.size === doubt.size, `batch of client ${ledger.client} applied to ${applied.size} of ${doubt.size} entities`);
  }
}

/** Checks one client's temporary entities. */
function checkTemps(ledger, temps) {
  for (const [temp, state] of ledger.temps) {
    const exists = temps.has(temp);
    if (state === 'created') assert.ok(exists, `${temp}: acknowledged create is missing`);
    if (state === 'deleted') assert.ok(!exists, `${temp}: acknowledged delete came back`);
    if (state.startsWith('maybe')) ledger.temps.set(temp, exists ? 'created' : 'deleted');
  }
}

/**
 * Checks one attribute's history: exactly the acknowledged values (an in-doubt write that
 * reached the current state counts as acknowledged), less what a deletion removed, in order
 * and with strictly increasing times.
 */
async function checkHistory(srv, ledger, key) {
  const [id, attr] = key.split('/');
  const s = ledger.attrs.get(key);
  const r = await srv.get(`/ql/v2/entities/${id}/attrs/${attr}?type=Sensor&limit=10000`, { headers: ledger.headers });
  const values = r.status === 404 ? [] : r.json.values;
  const index = r.status === 404 ? [] : r.json.index;
  assert.ok(r.status === 200 || r.status === 404, r.text);
  for (let i = 1; i < values.length; i++) {
    assert.ok(values[i] > values[i - 1], `${key}: history values not increasing at ${i}: ${values[i - 1]}, ${values[i]}`);
    assert.ok(index[i] > index[i - 1], `${key}: history times not increasing at ${i}: ${index[i - 1]}, ${index[i]}`);
  }
  const present = new Set(values);
  const acked = new Set(s.acked);
  for (const v of values) {
    assert.ok(acked.has(v), `${key}: history holds ${v}, which was never acknowledged nor applied (last sent ${s.sent})`);
    assert.ok(!s.erased.has(v), `${key}: history holds ${v}, which an acknowledged deletion removed`);
  }
  const kept = s.acked.filter((v) => !s.erased.has(v) && !s.loose.has(v));
  const missing = kept.filter((v) => !present.has(v));
  assert.deepEqual(missing, [], `${key}: acknowledged values missing from the history`);
}

test('writes acknowledged under concurrent load survive repeated kill -9', { timeout: 300_000 }, async (t) => {
  const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
  t.diagnostic(`CRASH_SEED=${seed}`);
  const rand = generator(seed);
  const srv = await startServer({ config: CONFIG });
  try {
    const ledgers = Array.from({ length: CLIENTS }, (_, c) => new Ledger(c));
    for (const ledger of ledgers) {
      const entities = ledger.sensors.map((id) => ({ id, type: 'Sensor', a: 0, b: 0 }));
      const r = await srv.post('/v2/op/update?options=keyValues', { actionType: 'append_strict', entities }, { headers: ledger.headers });
      assert.equal(r.status, 204, r.text);
    }
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const progress = { acknowledged: 0, killAt: 1500 + Math.floor(rand() * 2500), killing: false };
      const reached = new Promise((resolve) => { progress.reached = resolve; });
      const clients = ledgers.map((l) => runClient(srv, l, generator(Math.floor(rand() * 2 ** 31)), progress));
      await Promise.race([reached, Promise.all(clients)]);
      await Promise.all(clients);
      t.diagnostic(`cycle ${cycle}: killed after ${progress.acknowledged} acknowledged requests; in doubt: ${ledgers.filter((l) => l.inDoubt).map((l) => l.inDoubt.kind).join(',')}`);

      await srv.start();
      const sensors = await currentSensors(srv);
      assert.equal(sensors.size, CLIENTS * ENTITIES_PER_CLIENT);
      const temps = await currentTemps(srv);
      for (const ledger of ledgers) {
        checkCurrent(ledger, sensors);
        checkTemps(ledger, temps);
        for (const key of ledger.attrs.keys()) await checkHistory(srv, ledger, key);
        ledger.inDoubt = null;
      }
    }
  } finally {
    await srv.close();
  }
});
