// Benchmark client for Zhicheng's NGSI-v2 API, used by bench/run (node >= 18, no npm packages).
//
// Every mode talks to a server on 127.0.0.1 over keep-alive connections, prints progress on
// stderr and ONE line of JSON with its measurements on stdout. Every loop is bounded by a
// request count, and every wait by a timeout.
//
//   node client.mjs load   --port P --count N [--batch 1000] [--concurrency 2] [--deadline S]
//       Creates N entities around Gaoming (22.75-23.05N, 112.6-113.0E, a mix of types, each with
//       a temperature and a geo:point location) with POST /v2/op/update (append), `batch`
//       entities per request. Stops early at the deadline (seconds) and reports how many it made.
//   node client.mjs update --port P --entities E --requests R [--concurrency 2]
//       Creates E entities of 5 attributes (not timed), then sends R timed POST /v2/op/update
//       (actionType update) of 1000 entities x 5 attributes each: attribute updates/s.
//   node client.mjs query  --port P --kind near|q --count N
//       N sequential GETs, one at a time: `near` = georel=near;maxDistance:500 around random
//       points of the area; `q` = type=X&q=temperature>30&limit=20. Latency percentiles.
//   node client.mjs notify --port P --count N
//       Starts a receiver on 127.0.0.1, subscribes it to one entity, then N times: PATCH the
//       entity, note the time of the 204, wait for the notification carrying that value, note
//       the time of its receipt. Latency = receipt - acknowledgement (same clock); negative
//       when the notification arrives before the 204. Also receipt - request sent.
//   node client.mjs stall  --port P [--readers 1] [--path /v2/types] [--seconds 5]
//       Sequential PATCHes of one entity of the loaded city while `readers` connections
//       repeat GET `path` (a scan of every entity): PATCH latency percentiles and count,
//       and how many reads were answered. Shows whether a long read holds up writes and the
//       other connections of its I/O thread.
//   node client.mjs subscribed --port P --subscriptions N [--shape type|id|pattern|dead]
//                              [--requests 10]
//       In a tenant of its own: N subscriptions, none of which the writes below match
//       (`type`: idPattern .* and a type of their own; `id`: one entity id each; `pattern`:
//       an idPattern of their own and no type), then 1000 entities of 5 attributes, then
//       `requests` sequential POST /v2/op/update (update) of all of them: request latency and
//       attribute updates/s. Every change is matched against the tenant's subscriptions on
//       the writer thread, so this shows what many subscriptions cost every write.
//       `dead`: N subscriptions that match every change, to a receiver (in this process)
//       that accepts connections and never answers; 15 updates first fill its share of
//       notifications in progress, so that the timed ones are dropped: what a receiver that
//       does not keep up costs every write.
import http from 'node:http';

const args = Object.fromEntries(
  process.argv.slice(3).reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
    return acc;
  }, []),
);
const mode = process.argv[2];
const port = Number(args.port);
const num = (k, d) => (args[k] === undefined ? d : Number(args[k]));
const log = (...m) => process.stderr.write(`  [client ${mode}] ${m.join(' ')}\n`);

// Deterministic PRNG (mulberry32) so that every run loads the same city.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const AREA = { latMin: 22.75, latMax: 23.05, lonMin: 112.6, lonMax: 113.0 };
export const TYPES = ['WeatherObserved', 'AirQualityObserved', 'Streetlight', 'ParkingSpot',
  'WaterLevelObserved'];

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function request(method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    // bench/run starts the server with this admin token (authentication is on by default).
    if (process.env.BENCH_TOKEN && !h.Authorization) h.Authorization = `Bearer ${process.env.BENCH_TOKEN}`;
    if (body !== undefined) {
      h['Content-Type'] = 'application/json';
      h['Content-Length'] = Buffer.byteLength(body);
    }
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers: h }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
        body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(120000, () => req.destroy(new Error(`${method} ${path}: timeout`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function expectStatus(res, ok, what) {
  if (!ok.includes(res.status)) {
    throw new Error(`${what}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function summary(latMs) {
  const s = [...latMs].sort((a, b) => a - b);
  const r = (x) => Math.round(x * 1000) / 1000;
  return { n: s.length, p50_ms: r(percentile(s, 50)), p90_ms: r(percentile(s, 90)),
    p99_ms: r(percentile(s, 99)), max_ms: r(s[s.length - 1]), min_ms: r(s[0]) };
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

// Runs `total` jobs with at most `concurrency` in flight; job(i) returns a promise.
async function pool(total, concurrency, job, shouldStop = () => false) {
  let next = 0;
  let done = 0;
  async function worker() {
    while (next < total && !shouldStop()) {
      const i = next++;
      await job(i);
      done++;
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return done;
}

function cityEntity(i, rand) {
  const type = TYPES[i % TYPES.length];
  const lat = AREA.latMin + rand() * (AREA.latMax - AREA.latMin);
  const lon = AREA.lonMin + rand() * (AREA.lonMax - AREA.lonMin);
  return {
    id: `urn:ngsi-ld:${type}:gm-${i}`,
    type,
    temperature: { type: 'Number', value: Math.round((10 + rand() * 30) * 10) / 10 },
    location: { type: 'geo:point', value: `${lat.toFixed(6)}, ${lon.toFixed(6)}` },
  };
}

async function load() {
  const count = num('count', 1000);
  const batch = num('batch', 1000);
  const concurrency = num('concurrency', 2);
  const deadline = nowMs() + num('deadline', 1e9) * 1000;
  const rand = rng(num('seed', 42));
  const requests = Math.ceil(count / batch);
  // Bodies are built just in time (a million entities would not fit comfortably up front),
  // in order, from the one PRNG, so the city is the same on every run.
  const t0 = nowMs();
  let made = 0;
  let lastReport = t0;
  await pool(requests, concurrency, async (r) => {
    const entities = [];
    for (let i = r * batch; i < Math.min(count, (r + 1) * batch); i++) entities.push(cityEntity(i, rand));
    const res = await request('POST', '/v2/op/update',
      JSON.stringify({ actionType: 'append', entities }));
    expectStatus(res, [204], 'op/update append');
    made += entities.length;
    if (nowMs() - lastReport > 10000) {
      lastReport = nowMs();
      log(`${made} entities, ${Math.round(made / ((lastReport - t0) / 1000))}/s`);
    }
  }, () => nowMs() > deadline);
  const seconds = (nowMs() - t0) / 1000;
  return { entities: made, seconds, entities_per_s: made / seconds, complete: made === count };
}

function benchEntity(i, v) {
  return {
    id: `urn:ngsi-ld:WeatherObserved:bench-${i}`,
    type: 'WeatherObserved',
    temperature: { type: 'Number', value: 20 + (v % 100) / 10 },
    relativeHumidity: { type: 'Number', value: 0.5 + (v % 40) / 100 },
    atmosphericPressure: { type: 'Number', value: 1000 + (v % 30) },
    windSpeed: { type: 'Number', value: (v % 200) / 10 },
    weatherType: { type: 'Text', value: v % 2 ? 'sunny' : 'cloudy' },
  };
}

async function update() {
  const nEntities = num('entities', 10000);
  const nRequests = num('requests', 100);
  const concurrency = num('concurrency', 2);
  const perRequest = 1000;
  const attrsPerEntity = 5;
  // Not timed: create the entities the timed requests update.
  for (let b = 0; b < nEntities / perRequest; b++) {
    const entities = [];
    for (let i = b * perRequest; i < (b + 1) * perRequest; i++) entities.push(benchEntity(i, 0));
    expectStatus(await request('POST', '/v2/op/update',
      JSON.stringify({ actionType: 'append', entities })), [204], 'op/update append');
  }
  // Bodies prepared up front so that the timed part measures the server, not JSON.stringify.
  const bodies = [];
  for (let r = 0; r < nRequests; r++) {
    const entities = [];
    const first = (r * perRequest) % nEntities;
    for (let i = first; i < first + perRequest; i++) entities.push(benchEntity(i % nEntities, r + 1));
    bodies.push(JSON.stringify({ actionType: 'update', entities }));
  }
  log(`${nEntities} entities created; ${nRequests} requests of ${perRequest}x${attrsPerEntity}` +
    ` attributes, ${(bodies[0].length / 1024).toFixed(0)} KiB each, ${concurrency} in flight`);
  const lat = [];
  const t0 = nowMs();
  await pool(nRequests, concurrency, async (r) => {
    const s = nowMs();
    expectStatus(await request('POST', '/v2/op/update', bodies[r]), [204], 'op/update update');
    lat.push(nowMs() - s);
  });
  const seconds = (nowMs() - t0) / 1000;
  const attrs = nRequests * perRequest * attrsPerEntity;
  return { requests: nRequests, attribute_updates: attrs, seconds,
    attr_updates_per_s: attrs / seconds, request_latency: summary(lat),
    body_bytes: bodies[0].length };
}

async function query() {
  const kind = args.kind;
  const count = num('count', 2000);
  const rand = rng(num('seed', 7));
  const lat = [];
  let results = 0;
  let empty = 0;
  for (let i = 0; i < count; i++) {
    let path;
    if (kind === 'near') {
      const la = AREA.latMin + rand() * (AREA.latMax - AREA.latMin);
      const lo = AREA.lonMin + rand() * (AREA.lonMax - AREA.lonMin);
      path = `/v2/entities?georel=near;maxDistance:500&geometry=point&coords=${la.toFixed(6)},${lo.toFixed(6)}`;
    } else {
      const type = TYPES[Math.floor(rand() * TYPES.length)];
      path = `/v2/entities?type=${type}&q=temperature%3E30&limit=20`;
    }
    const s = nowMs();
    const res = await request('GET', path);
    lat.push(nowMs() - s);
    expectStatus(res, [200], `GET ${path}`);
    const n = JSON.parse(res.body).length;
    results += n;
    if (n === 0) empty++;
  }
  return { kind, ...summary(lat), mean_results: results / count, empty_results: empty };
}

async function notify() {
  const count = num('count', 1000);
  const waiting = new Map(); // value -> resolve(receipt time)
  let stray = 0;
  const receiver = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const t = nowMs();
      res.writeHead(204).end();
      try {
        for (const e of JSON.parse(Buffer.concat(chunks).toString()).data) {
          const v = e.temperature?.value;
          const w = waiting.get(v);
          if (w) { waiting.delete(v); w(t); } else stray++;
        }
      } catch { stray++; }
    });
  });
  receiver.keepAliveTimeout = 60000;
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${receiver.address().port}/notify`;
  const id = `urn:ngsi-ld:WeatherObserved:notify-${process.pid}`;
  expectStatus(await request('POST', '/v2/entities?options=upsert', JSON.stringify({
    id, type: 'WeatherObserved', temperature: { type: 'Number', value: -1 } })), [201, 204], 'create');
  const sub = await request('POST', '/v2/subscriptions', JSON.stringify({
    description: 'bench notification latency',
    subject: { entities: [{ id, type: 'WeatherObserved' }], condition: { attrs: ['temperature'] } },
    notification: { http: { url }, attrs: ['temperature'], attrsFormat: 'normalized' },
  }));
  expectStatus(sub, [201], 'subscribe');
  const lat = [];
  const fromSend = [];
  let lost = 0;
  for (let i = 0; i < count; i++) {
    const got = new Promise((resolve) => {
      waiting.set(i, resolve);
      setTimeout(() => resolve(null), 2000).unref();
    });
    const sent = nowMs();
    const res = await request('PATCH', `/v2/entities/${encodeURIComponent(id)}/attrs`,
      JSON.stringify({ temperature: { type: 'Number', value: i } }));
    const ack = nowMs();
    expectStatus(res, [204], 'PATCH');
    const recv = await got;
    if (recv === null) {
      lost++;
      waiting.delete(i);
    } else {
      lat.push(recv - ack);
      fromSend.push(recv - sent);
    }
  }
  await request('DELETE', sub.headers.location);
  receiver.close();
  receiver.closeAllConnections?.();
  return { ...summary(lat), from_send: summary(fromSend), lost, stray };
}

async function stall() {
  const readers = num('readers', 1);
  const path = args.path ?? '/v2/types';
  const until = nowMs() + num('seconds', 5) * 1000;
  let reads = 0;
  const reader = async () => {
    while (nowMs() < until) {
      expectStatus(await request('GET', path), [200], `GET ${path}`);
      reads++;
    }
  };
  const id = encodeURIComponent(`urn:ngsi-ld:${TYPES[0]}:gm-0`);
  const patcher = async () => {
    const lat = [];
    for (let i = 0; nowMs() < until; i++) {
      const s = nowMs();
      const res = await request('PATCH', `/v2/entities/${id}/attrs`,
        JSON.stringify({ temperature: { type: 'Number', value: i % 400 / 10 } }));
      lat.push(nowMs() - s);
      expectStatus(res, [204], 'PATCH');
    }
    return lat;
  };
  const [lat] = await Promise.all([patcher(), ...Array.from({ length: readers }, reader)]);
  return { readers, path, patches: summary(lat), reads };
}

function subjectOf(shape, i) {
  if (shape === 'dead') return { idPattern: '.*', type: 'WeatherObserved' };
  if (shape === 'id') return { id: `urn:ngsi-ld:Device:sub-${i}`, type: 'Device' };
  if (shape === 'pattern') return { idPattern: `^urn:ngsi-ld:Device:sub-${i}:` };
  return { idPattern: '.*', type: `Device${i}` };
}

async function subscribed() {
  const n = num('subscriptions', 1000);
  const shape = args.shape ?? 'type';
  const nRequests = num('requests', 10);
  const headers = { 'Fiware-Service': `bench_subs_${shape}_${n}_${process.pid}` };
  let url = 'http://127.0.0.1:9/unused';
  let silent;  // shape dead: accepts every notification and never answers
  if (shape === 'dead') {
    silent = http.createServer(() => {});
    silent.requestTimeout = 0;
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${silent.address().port}/silent`;
  }
  const t0 = nowMs();
  await pool(n, 8, async (i) => {
    const body = { subject: { entities: [subjectOf(shape, i)], condition: { attrs: ['temperature'] } },
      notification: { http: { url } } };
    expectStatus(await request('POST', '/v2/subscriptions', JSON.stringify(body), headers), [201],
      'create subscription');
  });
  log(`${n} subscriptions (${shape}) in ${((nowMs() - t0) / 1000).toFixed(1)} s`);
  const entities = Array.from({ length: 1000 }, (_, i) => benchEntity(i, 0));
  expectStatus(await request('POST', '/v2/op/update',
    JSON.stringify({ actionType: 'append', entities }), headers), [204], 'op/update append');
  const warmUp = shape === 'dead' ? 15 : 0;
  const bodies = Array.from({ length: warmUp + nRequests }, (_, r) => JSON.stringify({
    actionType: 'update', entities: entities.map((e, i) => benchEntity(i, r + 1)) }));
  for (const body of bodies.splice(0, warmUp)) {
    expectStatus(await request('POST', '/v2/op/update', body, headers), [204], 'op/update warm-up');
  }
  const lat = [];
  const t1 = nowMs();
  for (const body of bodies) {
    const s = nowMs();
    expectStatus(await request('POST', '/v2/op/update', body, headers), [204], 'op/update update');
    lat.push(nowMs() - s);
  }
  const seconds = (nowMs() - t1) / 1000;
  if (silent) silent.closeAllConnections(), silent.close();
  return { subscriptions: n, shape, requests: nRequests, request_latency: summary(lat),
    attr_updates_per_s: (nRequests * 1000 * 5) / seconds };
}

const modes = { load, update, query, notify, stall, subscribed };
if (!modes[mode] || !port) {
  process.stderr.write('usage: node client.mjs load|update|query|notify|stall|subscribed --port P [options]\n');
  process.exit(2);
}
try {
  const out = await modes[mode]();
  process.stdout.write(`${JSON.stringify(out)}\n`);
  agent.destroy();
} catch (e) {
  process.stderr.write(`client ${mode}: ${e.stack || e}\n`);
  process.exit(1);
}
