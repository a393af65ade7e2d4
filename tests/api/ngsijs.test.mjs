// The real FIWARE client library ngsijs (npm) against Zhicheng: create, update, query, batch,
// subscribe and receive a notification, get, delete — as an existing FIWARE client would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startServer, startReceiver } from './harness.mjs';

const require = createRequire(import.meta.url);
const NGSI = require('ngsijs');

let srv;
let rx;
let conn;
const tenant = { service: 'gaoming', servicepath: '/hecheng' };

// A system integrating as FIWARE clients do: a service account, a token from
// /oauth/token (client credentials), sent as X-Auth-Token by ngsijs.
async function integratorToken() {
  const acc = await srv.post('/api/identity/service-accounts', {
    clientId: 'ngsijs-client', name: 'ngsijs', roles: ['data_steward'],
    tenants: [{ tenant: 'gaoming', path: '/', write: true }, { tenant: 'sanshui', path: '/', write: true }],
  });
  assert.equal(acc.status, 201, acc.text);
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: 'ngsijs-client', client_secret: acc.json.clientSecret });
  const tok = await srv.request('POST', '/oauth/token', {
    auth: null, headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form.toString(),
  });
  assert.equal(tok.status, 200, tok.text);
  return tok.json.access_token;
}

let token;
before(async () => {
  srv = await startServer();
  rx = await startReceiver();
  token = await integratorToken();
  conn = new NGSI.Connection(srv.url, { ...tenant, headers: { 'X-Auth-Token': token } });
});

after(async () => {
  await rx?.close();
  await srv?.close();
});

test('ngsijs: createEntity, duplicate, getEntity', async () => {
  const res = await conn.v2.createEntity({
    id: 'Gaoming-WS-1', type: 'WeatherStation',
    temperature: { type: 'Number', value: 21.5 },
    location: { type: 'geo:json', value: { type: 'Point', coordinates: [112.88, 22.9] } },
  });
  assert.equal(res.location, '/v2/entities/Gaoming-WS-1?type=WeatherStation');
  await assert.rejects(conn.v2.createEntity({ id: 'Gaoming-WS-1', type: 'WeatherStation' }), NGSI.AlreadyExistsError);
  const got = await conn.v2.getEntity({ id: 'Gaoming-WS-1', keyValues: true });
  assert.deepEqual(got.entity, {
    id: 'Gaoming-WS-1', type: 'WeatherStation', temperature: 21.5,
    location: { type: 'Point', coordinates: [112.88, 22.9] },
  });
  await assert.rejects(conn.v2.getEntity('Nope'), NGSI.NotFoundError);
});

test('ngsijs: attribute values of every kind, read and replaced', async () => {
  await conn.v2.createEntity({
    id: 'Gaoming-WS-9', type: 'WeatherStation',
    temperature: { value: 21.5 }, station: { value: '荷城' },
    observedAt: { type: 'DateTime', value: '2026-12-06T08:00:00+08:00' }, wind: { value: { speed: 3 } },
  });
  const cases = [['temperature', 21.5], ['station', '荷城'], ['observedAt', '2026-12-06T00:00:00.000Z'],
    ['wind', { speed: 3 }]];
  for (const [attribute, expected] of cases) {
    const got = await conn.v2.getEntityAttributeValue({ id: 'Gaoming-WS-9', attribute });
    assert.deepEqual(got.value, expected, attribute);
  }
  // ngsijs sends a number as application/json, which Orion refuses (orion#2696).
  await conn.v2.replaceEntityAttributeValue({ id: 'Gaoming-WS-9', attribute: 'temperature', value: 19 });
  const after = await conn.v2.getEntityAttributeValue({ id: 'Gaoming-WS-9', attribute: 'temperature' });
  assert.equal(after.value, 19);
});

test('ngsijs: updateEntityAttributes and listEntities with q and count', async () => {
  await conn.v2.updateEntityAttributes({ id: 'Gaoming-WS-1', temperature: { type: 'Number', value: 33.1 } });
  await conn.v2.createEntity({ id: 'Gaoming-WS-2', type: 'WeatherStation', temperature: 18 }, { keyValues: true });
  const hot = await conn.v2.listEntities({ type: 'WeatherStation', q: 'temperature>30', keyValues: true, attrs: 'temperature', count: true });
  assert.equal(hot.count, 1);
  assert.deepEqual(hot.results, [{ id: 'Gaoming-WS-1', type: 'WeatherStation', temperature: 33.1 }]);
  const near = await conn.v2.listEntities({ georel: 'near;maxDistance:1000', geometry: 'point', coords: '22.9,112.881', attrs: 'none' });
  assert.deepEqual(near.results.map((e) => e.id), ['Gaoming-WS-1']);
  // Another tenant sees nothing.
  const other = new NGSI.Connection(srv.url, { service: 'sanshui', headers: { 'X-Auth-Token': token } });
  const none = await other.v2.listEntities({ count: true });
  assert.equal(none.count, 0);
  await assert.rejects(conn.v2.updateEntityAttributes({ id: 'Nope', temperature: { value: 1 } }), NGSI.NotFoundError);
});

test('ngsijs: batchUpdate appends and updates, batchQuery finds them', async () => {
  await conn.v2.batchUpdate({
    actionType: 'append',
    entities: [
      { id: 'Gauge-1', type: 'WaterLevelGauge', level: 2.31 },
      { id: 'Gauge-2', type: 'WaterLevelGauge', level: 3.05 },
    ],
  }, { keyValues: true });
  await conn.v2.batchUpdate({
    actionType: 'update',
    entities: [{ id: 'Gauge-2', type: 'WaterLevelGauge', level: { type: 'Number', value: 4.2 } }],
  });
  const list = await conn.v2.listEntities({ type: 'WaterLevelGauge', keyValues: true, orderBy: '!level' });
  assert.deepEqual(list.results, [
    { id: 'Gauge-2', type: 'WaterLevelGauge', level: 4.2 },
    { id: 'Gauge-1', type: 'WaterLevelGauge', level: 2.31 },
  ]);
  const q = await conn.v2.batchQuery({ entities: [{ idPattern: '^Gauge' }], expression: { q: 'level>3' } }, { keyValues: true });
  assert.deepEqual(q.results.map((e) => e.id), ['Gauge-2']);
  // The query of ngsijs's own batchQuery example: "attributes" selects the entities holding one.
  const withLevel = await conn.v2.batchQuery({ entities: [{ idPattern: '.*' }], attributes: ['level'] }, { keyValues: true });
  assert.deepEqual(withLevel.results.map((e) => e.id).sort(), ['Gauge-1', 'Gauge-2']);
  assert.deepEqual(Object.keys(withLevel.results[0]).sort(), ['id', 'level', 'type']);
  await assert.rejects(conn.v2.batchUpdate({ actionType: 'sideways', entities: [{ id: 'Gauge-1', type: 'WaterLevelGauge' }] }), NGSI.BadRequestError);
});

test('ngsijs: createSubscription and receive a notification', async () => {
  const res = await conn.v2.createSubscription({
    description: 'high water',
    subject: { entities: [{ idPattern: '^Gauge', type: 'WaterLevelGauge' }], condition: { attrs: ['level'], expression: { q: 'level>5' } } },
    notification: { http: { url: `${rx.url}/ngsijs` }, attrs: ['level'], attrsFormat: 'keyValues' },
  });
  const sid = res.subscription.id;
  assert.match(sid, /\S/);
  const got = await conn.v2.getSubscription(sid);
  assert.equal(got.subscription.description, 'high water');
  assert.equal(got.subscription.status, 'active');
  const listed = await conn.v2.listSubscriptions({ count: true });
  assert.equal(listed.count, 1);
  await conn.v2.updateEntityAttributes({ id: 'Gauge-1', type: 'WaterLevelGauge', level: 5.6 }, { keyValues: true });
  const n = await rx.waitFor((r) => r.path === '/ngsijs');
  assert.deepEqual(n.json, { subscriptionId: sid, data: [{ id: 'Gauge-1', type: 'WaterLevelGauge', level: 5.6 }] });
  assert.equal(n.headers['fiware-service'], 'gaoming');
  assert.equal(n.headers['fiware-servicepath'], '/hecheng');
  await conn.v2.deleteSubscription(sid);
  await assert.rejects(conn.v2.getSubscription(sid), NGSI.NotFoundError);
});

test('ngsijs: listTypes, getType, deleteEntity', async () => {
  const types = await conn.v2.listTypes({ values: true });
  assert.deepEqual(types.results, ['WaterLevelGauge', 'WeatherStation']);
  const t = await conn.v2.getType('WaterLevelGauge');
  assert.equal(t.type.count, 2);
  await conn.v2.deleteEntity({ id: 'Gauge-1', type: 'WaterLevelGauge' });
  await assert.rejects(conn.v2.getEntity({ id: 'Gauge-1', type: 'WaterLevelGauge' }), NGSI.NotFoundError);
  await assert.rejects(conn.v2.deleteEntity('Gauge-1'), NGSI.NotFoundError);
  const left = await conn.v2.listEntities({ type: 'WaterLevelGauge', count: true });
  assert.equal(left.count, 1);
});
