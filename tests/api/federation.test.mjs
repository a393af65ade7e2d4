// Federation (Orion's POST /v2/op/notify): one Zhicheng subscribes another, so that what a
// district's hub receives is mirrored in the city's hub. Two real servers: the district's
// subscription notifies the city's /v2/op/notify, which stores the data as op/update append.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, eventually } from './harness.mjs';

let district;
let city;

before(async () => {
  district = await startServer();
  city = await startServer();
});

after(async () => {
  await district?.close();
  await city?.close();
});

const gaoming = { 'Fiware-Service': 'foshan', 'Fiware-ServicePath': '/gaoming' };

// A district subscription whose notifications go to the city hub's /v2/op/notify; `custom`
// adds httpCustom fields. Returns the subscription id.
async function mirrorToCity(entity, custom = {}) {
  const res = await district.post('/v2/subscriptions', {
    subject: { entities: [entity] },
    notification: {
      httpCustom: {
        url: `${city.url}/v2/op/notify`,
        headers: { Authorization: `Bearer ${city.adminToken}` },
        ...custom,
      },
    },
  }, { headers: gaoming });
  assert.equal(res.status, 201, res.text);
  return res.headers.get('location').split('/').pop();
}

test('a subscription to another hub\'s /v2/op/notify mirrors creations and updates there', async () => {
  const sid = await mirrorToCity({ idPattern: '^Gauge-', type: 'WaterLevelGauge' });
  const created = await district.post('/v2/entities', {
    id: 'Gauge-7', type: 'WaterLevelGauge',
    level: { type: 'Number', value: 2.31, metadata: { unit: { type: 'Text', value: 'MTR' } } },
  }, { headers: gaoming });
  assert.equal(created.status, 201, created.text);
  const patched = await district.patch('/v2/entities/Gauge-7/attrs?options=keyValues', { level: 2.87 },
    { headers: gaoming });
  assert.equal(patched.status, 204, patched.text);

  const mirrored = await eventually(async () => {
    const res = await city.get('/v2/entities/Gauge-7', { headers: gaoming });
    return res.status === 200 && res.json.level.value === 2.87 ? res.json : null;
  }, 10_000, 'Gauge-7 at 2.87 in the city hub');
  assert.deepEqual(mirrored, {
    id: 'Gauge-7', type: 'WaterLevelGauge',
    level: { type: 'Number', value: 2.87, metadata: { unit: { type: 'Text', value: 'MTR' } } },
  });
  const stats = await district.get(`/v2/subscriptions/${sid}`,
    { headers: gaoming });
  assert.equal(stats.json.notification.lastSuccessCode, 200);
});

test('httpCustom.ngsi renames what is mirrored and adds where it came from', async () => {
  const sid = await mirrorToCity({ idPattern: '^Bin-', type: 'WasteBin' },
    { ngsi: { id: 'gaoming:${id}', district: { value: '${servicePath}', type: 'Text' } } });
  const created = await district.post('/v2/entities?options=keyValues',
    { id: 'Bin-12', type: 'WasteBin', fill: 64 }, { headers: gaoming });
  assert.equal(created.status, 201, created.text);
  const mirrored = await eventually(async () => {
    const res = await city.get('/v2/entities/gaoming:Bin-12?options=keyValues', { headers: gaoming });
    return res.status === 200 ? res.json : null;
  }, 10_000, 'gaoming:Bin-12 in the city hub');
  assert.deepEqual(mirrored, { id: 'gaoming:Bin-12', type: 'WasteBin', district: '/gaoming', fill: 64 });
  const got = await district.get(`/v2/subscriptions/${sid}`,
    { headers: gaoming });
  assert.equal(got.json.notification.httpCustom.ngsi.id, 'gaoming:${id}');
});

test('/v2/op/notify takes keyValues, answers 200 and checks its body', async () => {
  const ok = await city.post('/v2/op/notify?options=keyValues',
    { subscriptionId: 'from-elsewhere', data: [{ id: 'Bin-3', type: 'WasteBin', fill: 80 }] });
  assert.equal(ok.status, 200, ok.text);
  const bin = await city.get('/v2/entities/Bin-3?options=keyValues');
  assert.deepEqual(bin.json, { id: 'Bin-3', type: 'WasteBin', fill: 80 });

  const noData = await city.post('/v2/op/notify', { subscriptionId: 'x' });
  assert.equal(noData.status, 400);
  assert.deepEqual(noData.json,
    { error: 'BadRequest', description: 'Invalid JSON payload, mandatory field /data/ not found' });
  const unknown = await city.post('/v2/op/notify', { subscriptionId: 'x', data: [], extra: 1 });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.json.description, 'Unrecognized field in JSON payload: /extra/');
  const bad = await city.post('/v2/op/notify',
    { subscriptionId: 'x', data: [{ id: 'Bin-4', type: 'WasteBin', fill: { value: 1 } }, { id: 'Bin<5' }] });
  assert.equal(bad.status, 400);
  assert.equal((await city.get('/v2/entities/Bin-4')).status, 404, 'an invalid notification writes nothing');

  const anonymous = await city.post('/v2/op/notify',
    { subscriptionId: 'x', data: [{ id: 'Bin-6', type: 'WasteBin' }] }, { auth: null });
  assert.equal(anonymous.status, 401);
});
