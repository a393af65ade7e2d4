// HTTP limits at the socket level: idle keep-alive timeout, read timeout against a slow client,
// missing Content-Length, header size, keep-alive reuse, the size of answers and of entities,
// the entities of a tenant.
// Uses a short [http] config.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { startServer, deadline, eventually, metric } from './harness.mjs';

let srv;
before(async () => {
  srv = await startServer({ config: '[http]\nidle_timeout_seconds = 1\nread_timeout_seconds = 2\nmax_body_bytes = 65536\nmax_response_bytes = 131072\n[context]\nmax_attributes_per_entity = 3\nmax_entity_bytes = 100000\n' });
});
after(async () => { await srv?.close(); });

/** The credentials header line of raw requests. */
const authLine = () => `Authorization: Bearer ${srv.adminToken}\r\n`;

/** A raw TCP connection that collects everything the server sends until it closes. */
async function connect() {
  const sock = net.connect(srv.port, srv.host);
  await once(sock, 'connect');
  const conn = { sock, data: '', closed: false };
  sock.setEncoding('utf8');
  sock.on('data', (d) => { conn.data += d; conn.waiters?.forEach((f) => f()); });
  conn.closedP = new Promise((resolve) => sock.on('close', () => { conn.closed = true; resolve(); }));
  sock.on('error', () => {});
  conn.until = (pred, ms = 5000) => deadline(new Promise((resolve) => {
    const check = () => { if (pred(conn.data)) resolve(conn.data); };
    conn.waiters = [...(conn.waiters || []), check];
    check();
  }), ms, `no matching response; got ${JSON.stringify(conn.data.slice(0, 300))}`);
  return conn;
}

test('keep-alive: two requests on one connection', async () => {
  const c = await connect();
  c.sock.write(`GET /v2/entities HTTP/1.1\r\nHost: x\r\n${authLine()}\r\n`);
  await c.until((d) => /\r\n\r\n\[\]/.test(d));
  c.sock.write(`GET /v2/types HTTP/1.1\r\nHost: x\r\n${authLine()}\r\n`);
  await c.until((d) => (d.match(/HTTP\/1\.1 200/g) || []).length === 2);
  assert.equal(c.closed, false);
  c.sock.destroy();
});

test('an idle keep-alive connection is closed after the idle timeout', async () => {
  const c = await connect();
  c.sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  await c.until((d) => /HTTP\/1\.1 200/.test(d));
  const t0 = Date.now();
  // idle_timeout_seconds = 1: the server must close; the deadline is generous.
  await deadline(c.closedP, 8000, 'idle connection was not closed');
  assert.ok(Date.now() - t0 >= 500, 'closed too early for a 1 s idle timeout');
});

test('a client sending its headers byte by byte is cut off after the read timeout', async () => {
  const c = await connect();
  const head = 'GET /v2/entities HTTP/1.1\r\nHost: slow\r\nX-Padding: ' + 'a'.repeat(400) + '\r\n\r\n';
  let i = 0;
  // One byte every 50 ms keeps the connection busy but never completes within 2 s; the timer
  // is the client's pacing, not a wait for the server.
  const timer = setInterval(() => {
    if (c.closed || i >= head.length) { clearInterval(timer); return; }
    c.sock.write(head[i++]);
  }, 50);
  try {
    await deadline(c.closedP, 10_000, 'slow client was not cut off');
  } finally {
    clearInterval(timer);
  }
  assert.ok(i < head.length, `the whole request was read (${i} bytes sent)`);
  assert.ok(!/HTTP\/1\.1 200/.test(c.data), 'no successful response to an incomplete request');
});

test('a POST without Content-Length is 411', async () => {
  const c = await connect();
  c.sock.write(`POST /v2/entities HTTP/1.1\r\nHost: x\r\n${authLine()}Content-Type: application/json\r\nConnection: close\r\n\r\n`);
  const d = await c.until((x) => /\r\n\r\n\{.*\}/s.test(x));
  assert.match(d, /^HTTP\/1\.1 411/);
  assert.match(d, /"error":\s*"ContentLengthRequired"/);
  c.sock.destroy();
  assert.equal((await srv.get('/v2/entities')).text, '[]');
});

test('a body over max_body_bytes is 413 and nothing is written', async () => {
  const body = JSON.stringify({ id: 'Big', type: 'Blob', data: { type: 'Text', value: 'x'.repeat(70_000) } });
  const r = await srv.rawRequest('POST', '/v2/entities', { headers: { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) }, body });
  assert.equal(r.status, 413);
  assert.equal(r.json?.error, 'RequestEntityTooLarge');
  assert.equal((await srv.get('/v2/entities/Big')).status, 404);
  // Just under the limit is fine.
  const ok = JSON.stringify({ id: 'Small', type: 'Blob', data: { type: 'Text', value: 'x'.repeat(60_000) } });
  const r2 = await srv.post('/v2/entities', ok, { headers: { 'Content-Type': 'application/json' } });
  assert.equal(r2.status, 201, r2.text);
});

test('huge headers are rejected with 431 (or 400) without crashing', async () => {
  const r = await srv.rawRequest('GET', '/v2/entities', { headers: { 'X-Huge': 'h'.repeat(200_000) } }).catch((e) => ({ status: 'reset', e }));
  assert.ok(r.status === 431 || r.status === 400 || r.status === 'reset', `status ${r.status}`);
  assert.equal((await srv.get('/healthz')).status, 200);
});

test('malformed request lines get 400 and the server stays up', async () => {
  const c = await connect();
  c.sock.write('NOT-HTTP\r\n\r\n');
  await deadline(c.closedP, 5000, 'malformed request did not end the connection');
  assert.ok(c.data === '' || /^HTTP\/1\.1 400/.test(c.data), JSON.stringify(c.data.slice(0, 100)));
  assert.equal((await srv.get('/healthz')).status, 200);
});

test('an answer over max_response_bytes is refused in the protocol\'s format, and smaller pages of the same data are served', async () => {
  // Four pictures of 40,000 characters: together over 128 KiB, any two under it.
  const picture = (n) => String(n).repeat(40000);
  for (let i = 0; i < 4; i++) {
    const r = await srv.post('/v2/entities?options=keyValues', { id: `Pic${i}`, type: 'CameraSnapshot', image: picture(i) });
    assert.equal(r.status, 201, r.text);
  }
  const all = await srv.get('/v2/entities?type=CameraSnapshot&limit=1000');
  assert.equal(all.status, 413, all.text.slice(0, 200));
  assert.deepEqual(all.json, {
    error: 'NoResourcesAvailable',
    description: 'the answer would exceed 131072 bytes (max_response_bytes): ask for fewer entities (limit) or attributes (attrs)',
  });
  const query = await srv.post('/v2/op/query', { entities: [{ idPattern: '^Pic', type: 'CameraSnapshot' }] });
  assert.equal(query.status, 413);
  const page = await srv.get('/v2/entities?type=CameraSnapshot&limit=2&options=keyValues');
  assert.equal(page.status, 200);
  assert.deepEqual(page.json.map((e) => [e.id, e.image.length]), [['Pic0', 40000], ['Pic1', 40000]]);
  const ids = await srv.get('/v2/entities?type=CameraSnapshot&limit=1000&attrs=id&options=keyValues');
  assert.equal(ids.status, 200);
  assert.equal(ids.json.length, 4);

  // History: Pic0's picture four times over.
  for (let k = 1; k <= 3; k++) {
    const r = await srv.patch('/v2/entities/Pic0/attrs?options=keyValues', { image: picture(k) });
    assert.equal(r.status, 204);
  }
  const history = await srv.get('/ql/v2/entities/Pic0/attrs/image');
  assert.equal(history.status, 413, history.text.slice(0, 200));
  assert.deepEqual(history.json, {
    error: 'Payload Too Large',
    description: 'the answer would exceed 131072 bytes (max_response_bytes): ask for fewer points (lastN, limit, fromDate, toDate) or attributes',
  });
  assert.equal((await srv.get('/ql/v2/entities/Pic0')).status, 413);  // instants
  assert.equal((await srv.get('/ql/v2/types/CameraSnapshot/attrs/image')).status, 413);
  const recent = await srv.get('/ql/v2/entities/Pic0/attrs/image?lastN=2');
  assert.equal(recent.status, 200);
  assert.deepEqual(recent.json.values.map((v) => v.slice(0, 1)), ['2', '3']);
});

test('an entity grows to at most max_attributes_per_entity attributes; writes that add none go on', async () => {
  const created = await srv.post('/v2/entities?options=keyValues', { id: 'Meter-9', type: 'Meter', a: 1, b: 2 });
  assert.equal(created.status, 201);
  const third = await srv.post('/v2/entities/Meter-9/attrs?options=keyValues', { c: 3 });
  assert.equal(third.status, 204);
  // A device that names each reading after its time would grow the entity without end.
  const fourth = await srv.post('/v2/entities/Meter-9/attrs?options=keyValues', { reading_1717200000: 4 });
  assert.equal(fourth.status, 413);
  assert.deepEqual(fourth.json, {
    error: 'RequestEntityTooLarge',
    description: 'an entity may have at most 3 attributes ([context] max_attributes_per_entity)',
  });
  const batch = await srv.post('/v2/op/update', { actionType: 'append', entities: [{ id: 'Meter-9', type: 'Meter', d: { value: 5 } }] });
  assert.equal(batch.status, 413);
  const stored = await srv.get('/v2/entities/Meter-9?options=keyValues');
  assert.deepEqual(stored.json, { id: 'Meter-9', type: 'Meter', a: 1, b: 2, c: 3 });
  const update = await srv.patch('/v2/entities/Meter-9/attrs?options=keyValues', { a: 10, c: 30 });
  assert.equal(update.status, 204);
});

test('an entity grows to at most max_entity_bytes; writes that do not grow it go on', async () => {
  const frame = (n) => String(n).repeat(60000);
  const created = await srv.post('/v2/entities?options=keyValues', { id: 'Gate-1', type: 'Camera', frame: frame(1), n: 1 });
  assert.equal(created.status, 201, created.text);
  // A camera that appends each picture under a new name would grow the entity without end.
  const second = await srv.post('/v2/entities/Gate-1/attrs?options=keyValues', { frame_2: frame(2) });
  assert.equal(second.status, 413);
  assert.equal(second.json.error, 'RequestEntityTooLarge');
  assert.match(second.json.description, /^the entity would take about 120\d{3} bytes, more than 100000 \(\[context\] max_entity_bytes\)$/);
  const batch = await srv.post('/v2/op/update', { actionType: 'append', entities: [{ id: 'Gate-1', type: 'Camera', frame_2: { value: frame(2) } }] });
  assert.equal(batch.status, 413);
  const upsert = await srv.post('/v2/entities?options=keyValues,upsert', { id: 'Gate-1', type: 'Camera', frame_2: frame(2) });
  assert.equal(upsert.status, 413);
  const stored = await srv.get('/v2/entities/Gate-1?options=keyValues');
  assert.deepEqual(Object.keys(stored.json), ['id', 'type', 'frame', 'n']);
  assert.equal(stored.json.frame, frame(1));
  const replaced = await srv.patch('/v2/entities/Gate-1/attrs?options=keyValues', { frame: frame(3), n: 2 });
  assert.equal(replaced.status, 204);
  assert.equal((await srv.get('/v2/entities/Gate-1/attrs/frame/value')).text, JSON.stringify(frame(3)));
});

test('a tenant holds at most [context] max_entities_per_tenant entities, across restarts; updates, deletions and other tenants go on', async () => {
  const limited = await startServer({ config: '[context]\nmax_entities_per_tenant = 3\n' });
  const water = { headers: { 'Fiware-Service': 'water' } };
  const kv = (id) => ({ id, type: 'Gauge', level: 1 });
  const batch = (ids) => ({ actionType: 'append', entities: ids.map((id) => ({ id, type: 'Gauge', level: { value: 1 } })) });
  try {
    assert.equal((await limited.post('/v2/op/update', batch(['G1', 'G2']), water)).status, 204);
    const over = await limited.post('/v2/op/update', batch(['G3', 'G4']), water);
    assert.equal(over.status, 413, over.text);
    assert.deepEqual(over.json, {
      error: 'NoResourcesAvailable',
      description: 'this service holds 2 entities and may hold at most 3 ([context] max_entities_per_tenant)',
    });
    assert.equal((await limited.get('/v2/entities/G3', water)).status, 404, 'the batch wrote nothing');
    assert.equal((await limited.post('/v2/entities?options=keyValues', kv('G3'), water)).status, 201);
    assert.equal((await limited.post('/v2/entities?options=keyValues', kv('G4'), water)).status, 413);
    assert.equal((await limited.post('/v2/entities?options=keyValues,upsert', kv('G5'), water)).status, 413);
    assert.equal((await limited.patch('/v2/entities/G1/attrs?options=keyValues', { level: 2 }, water)).status, 204);
    assert.equal((await limited.post('/v2/entities?options=keyValues,upsert', kv('G2'), water)).status, 204);
    for (const id of ['A1', 'A2', 'A3']) {
      assert.equal((await limited.post('/v2/entities?options=keyValues', kv(id), { headers: { 'Fiware-Service': 'air' } })).status, 201);
    }

    // The count comes back with the entities after a restart.
    await limited.restart();
    assert.equal((await limited.post('/v2/entities?options=keyValues', kv('G4'), water)).status, 413);
    assert.equal((await limited.request('DELETE', '/v2/entities/G2', water)).status, 204);
    assert.equal((await limited.post('/v2/entities?options=keyValues', kv('G4'), water)).status, 201);
    const listed = await limited.get('/v2/entities?options=count&attrs=id', water);
    assert.equal(listed.headers.get('fiware-total-count'), '3');
  } finally {
    await limited.close();
  }
});

test('/v2/types whose attribute names would pass max_response_bytes is 413; options=values is served', async () => {
  // Sensors that each name their readings differently: 540 distinct names of 250 characters.
  const tenant = { 'Fiware-Service': 'wide_types' };
  for (let batch = 0; batch < 3; batch++) {
    const entities = Array.from({ length: 60 }, (_, i) => {
      const e = { id: `W-${batch}-${i}`, type: 'WideSensor' };
      for (let k = 0; k < 3; k++) e[`r${batch}_${i}_${k}_`.padEnd(250, 'x')] = k;
      return e;
    });
    const w = await srv.post('/v2/op/update?options=keyValues', { actionType: 'append', entities }, { headers: tenant });
    assert.equal(w.status, 204, w.text);
  }
  const all = await srv.get('/v2/types', { headers: tenant });
  assert.equal(all.status, 413, all.text.slice(0, 200));
  assert.deepEqual(all.json, {
    error: 'NoResourcesAvailable',
    description: 'the answer would exceed 131072 bytes (max_response_bytes): ask for fewer attributes (options=values lists the types alone)',
  });
  assert.equal((await srv.get('/v2/types/WideSensor', { headers: tenant })).status, 413);
  const values = await srv.get('/v2/types?options=values,count', { headers: tenant });
  assert.equal(values.status, 200);
  assert.deepEqual(values.json, ['WideSensor']);
  assert.equal(values.headers.get('fiware-total-count'), '1');
});

test('a page of subscriptions over max_response_bytes is 413; a shorter page is served', async () => {
  for (let i = 0; i < 9; i++) {
    const r = await srv.post('/v2/subscriptions', {
      description: `large template ${i}`,
      subject: { entities: [{ idPattern: '.*', type: 'NeverWritten' }] },
      notification: { httpCustom: { url: 'http://127.0.0.1:9/x', payload: 'x'.repeat(16000) } },
    });
    assert.equal(r.status, 201, r.text);
  }
  const all = await srv.get('/v2/subscriptions?limit=1000');
  assert.equal(all.status, 413);
  assert.equal(all.json.error, 'NoResourcesAvailable');
  const page = await srv.get('/v2/subscriptions?limit=4&options=count');
  assert.equal(page.status, 200);
  assert.equal(page.json.length, 4);
  assert.equal(page.headers.get('fiware-total-count'), '9');
});

test('answers waiting for clients that do not read them are bounded: past [http] max_pending_response_bytes a large one is 503', async () => {
  const own = await startServer({ config: '[http]\nmax_pending_response_bytes = 33554432\n' });
  const socks = [];
  try {
    const text = 'x'.repeat(20_000);
    for (let b = 0; b < 40; b++) {
      const entities = Array.from({ length: 25 }, (_, i) => ({ id: `Big-${b * 25 + i}`, type: 'Big', t: { type: 'Text', value: text } }));
      const r = await own.post('/v2/op/update', { actionType: 'append', entities });
      assert.equal(r.status, 204, r.text);
    }
    const pending = () => metric(own, 'zhicheng_http_response_bytes_pending');
    const ask = (conn) => conn.sock.write(`GET /v2/entities?limit=1000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${own.adminToken}\r\n\r\n`);
    // A client that asks for a 20 MB page and does not read it holds it.
    const stalled = net.connect(own.port, own.host);
    await once(stalled, 'connect');
    stalled.on('error', () => {});
    socks.push(stalled);
    ask({ sock: stalled });
    stalled.pause();
    await eventually(async () => (await pending()) >= 20_000_000, 10_000, 'the first answer pending');
    // The next large answer would take the pending ones past 32 MiB: 503 in NGSI's format.
    const r = await own.get('/v2/entities?limit=1000');
    assert.equal(r.status, 503, r.text.slice(0, 300));
    assert.equal(r.json.error, 'ServiceUnavailable');
    assert.match(r.json.description, /max_pending_response_bytes/);
    assert.equal(r.headers.get('retry-after'), '1');
    // Small answers still go out.
    assert.equal((await own.get('/v2/entities?limit=1&attrs=id')).status, 200);
    // Once the stalled client is gone, large answers go out again.
    stalled.destroy();
    await eventually(async () => (await pending()) === 0, 10_000, 'nothing pending');
    const again = await own.get('/v2/entities?limit=1000');
    assert.equal(again.status, 200);
    assert.equal(again.json.length, 1000);
  } finally {
    for (const s of socks) s.destroy();
    await own.close();
  }
});

test('one client address holds at most [http] max_connections_per_address connections; other clients are served', async () => {
  const own = await startServer({ config: '[http]\nmax_connections_per_address = 5\n' });
  const socks = [];
  // The hog connects from 127.0.0.2 (another loopback address); the harness's own requests
  // come from 127.0.0.1.
  const open = async () => {
    const sock = net.connect({ port: own.port, host: own.host, localAddress: '127.0.0.2' });
    sock.on('error', () => {});
    socks.push(sock);
    await once(sock, 'connect');
    return sock;
  };
  const served = async (sock) => {
    let data = '';
    sock.setEncoding('utf8');
    sock.on('data', (d) => { data += d; });
    sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await Promise.race([once(sock, 'close'), eventually(() => /HTTP\/1\.1 200/.test(data), 5000, 'an answer')]);
    return /HTTP\/1\.1 200/.test(data);
  };
  try {
    const hog = [];
    for (let i = 0; i < 5; i++) hog.push(await open());  // idle: they send nothing
    const sixth = await open();
    await deadline(once(sixth, 'close'), 5000, 'the sixth connection of one address was not closed');
    assert.equal((await own.get('/v2/entities')).status, 200);  // 127.0.0.1 is served
    assert.equal(await metric(own, 'zhicheng_http_connections_refused_per_address_total'), 1);
    assert.match(own.stdout + own.stderr, /127\.0\.0\.2 has 5 connections open \(\[http\] max_connections_per_address\): closed/);
    // Once one of them is closed, the address gets a connection again.
    hog[0].destroy();
    await eventually(async () => served(await open()), 10_000, 'a connection of 127.0.0.2 served again');
  } finally {
    for (const s of socks) s.destroy();
    await own.close();
  }
});

test('request bodies being received are bounded: past [http] max_pending_request_bytes a large one is 503 before its body is read', async () => {
  const own = await startServer({ config: '[http]\nmax_pending_request_bytes = 1048576\n' });
  const pending = () => metric(own, 'zhicheng_http_request_bytes_pending');
  const batch = (n) => ({ actionType: 'append', entities: Array.from({ length: n }, (_, i) => ({ id: `Body-${i}`, type: 'Body', t: { type: 'Text', value: 'x'.repeat(1000) } })) });
  const slow = net.connect(own.port, own.host);
  slow.on('error', () => {});
  try {
    await once(slow, 'connect');
    // A client announces a 1 MiB body and sends a little of it: it holds the whole budget.
    slow.write(`POST /v2/op/update HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${own.adminToken}\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{"actionType":`);
    await eventually(async () => (await pending()) === 1048576, 10_000, 'the announced body counted');
    // The next large body (about 100 KB) is refused in NGSI's format, and nothing is written.
    const r = await own.post('/v2/op/update', batch(100));
    assert.equal(r.status, 503, r.text.slice(0, 300));
    assert.equal(r.json.error, 'ServiceUnavailable');
    assert.match(r.json.description, /max_pending_request_bytes/);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.equal((await own.get('/v2/entities?type=Body&limit=1')).json.length, 0);
    // Small bodies go on.
    assert.equal((await own.post('/v2/entities', { id: 'Small', type: 'Body' })).status, 201);
    // Once the slow client is gone, large bodies are received again.
    slow.destroy();
    await eventually(async () => (await pending()) === 0, 10_000, 'nothing pending');
    assert.equal((await own.post('/v2/op/update', batch(100))).status, 204);
    assert.equal((await own.get('/v2/entities?type=Body&options=count&limit=1')).headers.get('fiware-total-count'), '101');
  } finally {
    slow.destroy();
    await own.close();
  }
});
