// Subscriptions that really notify: a local HTTP receiver records what Zhicheng sends. Each test
// uses its own entity type and receiver path, so the tests share one server and one receiver.
// "Nothing was sent" is proven without waiting on time: a later change that must notify on the
// same subscription (or a control subscription) arrives, and the earlier one did not precede it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { startServer, startReceiver, deadPort, eventually, deadline, metric, riverLevels } from './harness.mjs';

let srv;
let rx;

before(async () => {
  srv = await startServer();
  rx = await startReceiver();
});

after(async () => {
  await rx?.close();
  await srv?.close();
});

async function subscribe(body, headers = {}) {
  const res = await srv.post('/v2/subscriptions', body, { headers });
  assert.equal(res.status, 201, `subscription create: ${res.status} ${res.text}`);
  const loc = res.headers.get('location');
  assert.match(loc, /^\/v2\/subscriptions\/[^/]+$/);
  return loc.split('/').pop();
}

async function create(entity, headers = {}, options = '') {
  const res = await srv.post(`/v2/entities${options}`, entity, { headers });
  assert.equal(res.status, 201, `create ${entity.id}: ${res.status} ${res.text}`);
}

async function patchKv(id, attrs, headers = {}) {
  const res = await srv.patch(`/v2/entities/${encodeURIComponent(id)}/attrs?options=keyValues`, attrs, { headers });
  assert.equal(res.status, 204, `patch ${id}: ${res.status} ${res.text}`);
  return res;
}

const onPath = (p) => (r) => r.path === p;

test('normalized notification on update with NGSI headers, and no initial notification', async () => {
  const sid = await subscribe({
    subject: { entities: [{ idPattern: '^Rain-', type: 'RainGauge' }] },
    notification: { http: { url: `${rx.url}/normalized` } },
  }, { 'Fiware-Service': 'gaoming', 'Fiware-ServicePath': '/hecheng' });
  await create({ id: 'Rain-1', type: 'RainGauge', rainfall: { type: 'Number', value: 0 } },
    { 'Fiware-Service': 'gaoming', 'Fiware-ServicePath': '/hecheng' });
  await patchKv('Rain-1', { rainfall: 12.5 }, { 'Fiware-Service': 'gaoming', 'Fiware-ServicePath': '/hecheng', 'Fiware-Correlator': 'corr-rain-1' });
  const n = await rx.waitFor((r) => r.path === '/normalized' && r.json?.data?.[0]?.rainfall?.value === 12.5);
  assert.equal(n.method, 'POST');
  assert.match(n.headers['content-type'], /application\/json/);
  assert.equal(n.headers['fiware-service'], 'gaoming');
  assert.equal(n.headers['fiware-servicepath'], '/hecheng');
  assert.equal(n.headers['ngsiv2-attrsformat'], 'normalized');
  assert.ok(n.headers['fiware-correlator']?.startsWith('corr-rain-1'), `correlator ${n.headers['fiware-correlator']}`);
  assert.deepEqual(n.json, {
    subscriptionId: sid,
    data: [{ id: 'Rain-1', type: 'RainGauge', rainfall: { type: 'Number', value: 12.5, metadata: {} } }],
  });
  // No initial notification: the entity's creation happened after the subscription, so Orion
  // notifies it (value 0); but creating a subscription over existing entities must not.
  const all = rx.matching(onPath('/normalized'));
  assert.ok(all.every((r) => r.json.subscriptionId === sid));
  const sid2 = await subscribe({
    subject: { entities: [{ idPattern: '^Rain-', type: 'RainGauge' }] },
    notification: { http: { url: `${rx.url}/late` } },
  }, { 'Fiware-Service': 'gaoming', 'Fiware-ServicePath': '/hecheng' });
  await patchKv('Rain-1', { rainfall: 20 }, { 'Fiware-Service': 'gaoming', 'Fiware-ServicePath': '/hecheng' });
  await rx.waitFor((r) => r.path === '/late');
  const late = rx.matching(onPath('/late'));
  assert.equal(late[0].json.subscriptionId, sid2);
  assert.equal(late[0].json.data[0].rainfall.value, 20, 'first notification of a new subscription must be the later update, not an initial one');
});

test('entity creation notifies a matching subscription', async () => {
  await subscribe({
    subject: { entities: [{ idPattern: '.*', type: 'Hydrant' }] },
    notification: { http: { url: `${rx.url}/created` }, attrsFormat: 'keyValues' },
  });
  await create({ id: 'Hydrant-7', type: 'Hydrant', pressure: { type: 'Number', value: 3.2 } });
  const n = await rx.waitFor(onPath('/created'));
  assert.deepEqual(n.json.data, [{ id: 'Hydrant-7', type: 'Hydrant', pressure: 3.2 }]);
  assert.equal(n.headers['ngsiv2-attrsformat'], 'keyValues');
});

test('keyValues and values formats with notification attrs', async () => {
  await subscribe({
    subject: { entities: [{ id: 'Truck-1', type: 'MuckTruck' }] },
    notification: { http: { url: `${rx.url}/kv` }, attrsFormat: 'keyValues', attrs: ['speed', 'loaded'] },
  });
  await subscribe({
    subject: { entities: [{ id: 'Truck-1', type: 'MuckTruck' }] },
    notification: { http: { url: `${rx.url}/values` }, attrsFormat: 'values', attrs: ['loaded', 'speed'] },
  });
  await create({ id: 'Truck-1', type: 'MuckTruck', speed: { type: 'Number', value: 0 }, loaded: { type: 'Boolean', value: false }, plate: { type: 'Text', value: '粤E1234' } });
  await patchKv('Truck-1', { speed: 35 });
  const kv = await rx.waitFor((r) => r.path === '/kv' && r.json?.data?.[0]?.speed === 35);
  assert.deepEqual(kv.json.data, [{ id: 'Truck-1', type: 'MuckTruck', speed: 35, loaded: false }]);
  assert.equal(kv.headers['ngsiv2-attrsformat'], 'keyValues');
  const v = await rx.waitFor((r) => r.path === '/values' && r.json?.data?.[0]?.[1] === 35);
  assert.deepEqual(v.json.data, [[false, 35]]);
  assert.equal(v.headers['ngsiv2-attrsformat'], 'values');
});

test('exceptAttrs leaves attributes out', async () => {
  await subscribe({
    subject: { entities: [{ id: 'Cam-9', type: 'Camera' }] },
    notification: { http: { url: `${rx.url}/except` }, attrsFormat: 'keyValues', exceptAttrs: ['secret'] },
  });
  await create({ id: 'Cam-9', type: 'Camera', zoom: { type: 'Number', value: 1 }, secret: { type: 'Text', value: 'pw' } });
  await patchKv('Cam-9', { zoom: 2 });
  const n = await rx.waitFor((r) => r.path === '/except' && r.json?.data?.[0]?.zoom === 2);
  assert.deepEqual(n.json.data, [{ id: 'Cam-9', type: 'Camera', zoom: 2 }]);
});

test('covered: every listed attribute is notified, null where the entity lacks it', async () => {
  const id = await subscribe({
    subject: { entities: [{ id: 'AQ-7', type: 'AirQualityCovered' }] },
    notification: { http: { url: `${rx.url}/covered` }, attrsFormat: 'keyValues', attrs: ['pm25', 'no2', 'o3'], covered: true },
  });
  await create({ id: 'AQ-7', type: 'AirQualityCovered', pm25: { type: 'Number', value: 31 }, no2: { type: 'Number', value: 18 } });
  const first = await rx.waitFor((r) => r.path === '/covered' && r.json?.data?.[0]?.pm25 === 31);
  assert.deepEqual(first.json.data, [{ id: 'AQ-7', type: 'AirQualityCovered', pm25: 31, no2: 18, o3: null }]);
  const shown = await srv.get(`/v2/subscriptions/${id}`);
  assert.equal(shown.json.notification.covered, true);
  const del = await srv.del('/v2/entities/AQ-7/attrs/no2');
  assert.equal(del.status, 204);
  const second = await rx.waitFor((r) => r.path === '/covered' && r.json?.data?.[0]?.no2 === null);
  assert.deepEqual(second.json.data, [{ id: 'AQ-7', type: 'AirQualityCovered', pm25: 31, no2: null, o3: null }]);
});

test('onlyChangedAttrs sends only what changed', async () => {
  await subscribe({
    subject: { entities: [{ id: 'WS-2', type: 'WeatherStation' }] },
    notification: { http: { url: `${rx.url}/changed` }, attrsFormat: 'keyValues', onlyChangedAttrs: true },
  });
  await create({ id: 'WS-2', type: 'WeatherStation', temperature: { type: 'Number', value: 20 }, humidity: { type: 'Number', value: 70 } });
  await patchKv('WS-2', { humidity: 75 });
  const n = await rx.waitFor((r) => r.path === '/changed' && r.json?.data?.[0]?.humidity === 75);
  assert.deepEqual(n.json.data, [{ id: 'WS-2', type: 'WeatherStation', humidity: 75 }]);
});

test('condition attrs: only changes of the named attributes notify', async () => {
  await create({ id: 'WS-3', type: 'WeatherStation3', temperature: { type: 'Number', value: 20 }, humidity: { type: 'Number', value: 70 } });
  await subscribe({
    subject: { entities: [{ id: 'WS-3', type: 'WeatherStation3' }], condition: { attrs: ['temperature'] } },
    notification: { http: { url: `${rx.url}/cond` }, attrsFormat: 'keyValues' },
  });
  await patchKv('WS-3', { humidity: 71 });
  await patchKv('WS-3', { temperature: 25 });
  const n = await rx.waitFor((r) => r.path === '/cond' && r.json?.data?.[0]?.temperature === 25);
  const all = rx.matching(onPath('/cond'));
  assert.equal(all.length, 1, `only the temperature change notifies, got ${all.map((r) => r.text).join(' | ')}`);
  assert.deepEqual(n.json.data, [{ id: 'WS-3', type: 'WeatherStation3', temperature: 25, humidity: 71 }]);
});

test('notifyOnMetadataChange false: a change of metadata alone does not notify', async () => {
  const gauge = (value, unit) => ({ level: { type: 'Number', value, metadata: { unit: { type: 'Text', value: unit } } } });
  await create({ id: 'Gauge-M', type: 'GaugeMeta', ...gauge(1.5, 'M') });
  for (const [path, onMetadata] of [['/meta-on', true], ['/meta-off', false]]) {
    await subscribe({
      subject: { entities: [{ id: 'Gauge-M', type: 'GaugeMeta' }], condition: { notifyOnMetadataChange: onMetadata } },
      notification: { http: { url: `${rx.url}${path}` }, attrsFormat: 'keyValues' },
    });
  }
  const patch = async (body) => {
    const res = await srv.patch('/v2/entities/Gauge-M/attrs', body);
    assert.equal(res.status, 204, res.text);
  };
  await patch(gauge(1.5, 'MTR'));  // same value, new metadata
  await rx.waitFor((r) => r.path === '/meta-on' && r.json?.data?.[0]?.level === 1.5);
  await patch(gauge(1.7, 'MTR'));  // a new value
  await rx.waitFor((r) => r.path === '/meta-off' && r.json?.data?.[0]?.level === 1.7);
  await rx.waitFor((r) => r.path === '/meta-on' && r.json?.data?.[0]?.level === 1.7);
  const off = rx.matching(onPath('/meta-off'));
  assert.deepEqual(off.map((r) => r.json.data[0].level), [1.7], 'the metadata-only change did not notify');
  assert.deepEqual(rx.matching(onPath('/meta-on')).map((r) => r.json.data[0].level), [1.5, 1.7]);
});

test('condition expression q: only matching states notify', async () => {
  await create({ id: 'Gauge-Q', type: 'GaugeQ', level: { type: 'Number', value: 1 } });
  await subscribe({
    subject: { entities: [{ idPattern: '.*', type: 'GaugeQ' }], condition: { attrs: ['level'], expression: { q: 'level>3' } } },
    notification: { http: { url: `${rx.url}/q` }, attrsFormat: 'keyValues', attrs: ['level'] },
  });
  await patchKv('Gauge-Q', { level: 2.5 });
  await patchKv('Gauge-Q', { level: 3.5 });
  await rx.waitFor((r) => r.path === '/q' && r.json?.data?.[0]?.level === 3.5);
  assert.deepEqual(rx.matching(onPath('/q')).map((r) => r.json.data[0].level), [3.5]);
});

test('httpCustom: method, headers, qs and payload with macros', async () => {
  await subscribe({
    subject: { entities: [{ id: 'Gauge-C', type: 'GaugeC' }] },
    notification: {
      httpCustom: {
        url: `${rx.url}/custom`, method: 'PUT',
        headers: { 'X-Dept': 'water', 'Content-Type': 'text/plain' },
        qs: { entity: '${id}', src: 'zc' },
        payload: 'level of ${id} is ${level}',
      },
    },
  });
  await create({ id: 'Gauge-C', type: 'GaugeC', level: { type: 'Number', value: 1 } });
  await patchKv('Gauge-C', { level: 4 });
  const n = await rx.waitFor((r) => r.path === '/custom' && r.text.includes('is 4'));
  assert.equal(n.method, 'PUT');
  assert.equal(n.headers['x-dept'], 'water');
  assert.deepEqual(n.query, { entity: 'Gauge-C', src: 'zc' });
  assert.equal(n.text, 'level of Gauge-C is 4');
});

test('throttling drops notifications inside the window', async () => {
  await subscribe({
    subject: { entities: [{ id: 'Thr-1', type: 'Throttled' }] },
    notification: { http: { url: `${rx.url}/throttled` }, attrsFormat: 'keyValues' },
    throttling: 3600,
  });
  // Control: a subscription without throttling on the same entity sees every change.
  await subscribe({
    subject: { entities: [{ id: 'Thr-1', type: 'Throttled' }] },
    notification: { http: { url: `${rx.url}/control` }, attrsFormat: 'keyValues' },
  });
  await create({ id: 'Thr-1', type: 'Throttled', n: { type: 'Number', value: 0 } });
  await patchKv('Thr-1', { n: 1 });
  await patchKv('Thr-1', { n: 2 });
  await rx.waitFor((r) => r.path === '/control' && r.json?.data?.[0]?.n === 2);
  await rx.waitFor(onPath('/throttled'));
  // Notifications of one subscription may still be in flight; ask the server what it sent.
  const sent = rx.matching(onPath('/throttled'));
  assert.equal(sent.length, 1, `throttling 3600 s lets one notification through, got ${sent.length}`);
});

test('oneshot notifies once and becomes inactive', async () => {
  const sid = await subscribe({
    subject: { entities: [{ id: 'One-1', type: 'OneShot' }] },
    notification: { http: { url: `${rx.url}/oneshot` }, attrsFormat: 'keyValues' },
    status: 'oneshot',
  });
  await subscribe({
    subject: { entities: [{ id: 'One-1', type: 'OneShot' }] },
    notification: { http: { url: `${rx.url}/oneshot-control` }, attrsFormat: 'keyValues' },
  });
  await create({ id: 'One-1', type: 'OneShot', n: { type: 'Number', value: 0 } });
  await rx.waitFor(onPath('/oneshot'));
  const s = await eventually(async () => {
    const r = await srv.get(`/v2/subscriptions/${sid}`);
    return r.json?.status === 'inactive' && r.json;
  }, 10_000, 'oneshot subscription to become inactive');
  assert.equal(s.status, 'inactive');
  await patchKv('One-1', { n: 1 });
  await rx.waitFor((r) => r.path === '/oneshot-control' && r.json?.data?.[0]?.n === 1);
  assert.equal(rx.matching(onPath('/oneshot')).length, 1);
});

test('inactive subscriptions do not notify; reactivated ones do', async () => {
  const sid = await subscribe({
    subject: { entities: [{ id: 'Ina-1', type: 'Inactive' }] },
    notification: { http: { url: `${rx.url}/inactive` }, attrsFormat: 'keyValues' },
    status: 'inactive',
  });
  await subscribe({
    subject: { entities: [{ id: 'Ina-1', type: 'Inactive' }] },
    notification: { http: { url: `${rx.url}/inactive-control` }, attrsFormat: 'keyValues' },
  });
  await create({ id: 'Ina-1', type: 'Inactive', n: { type: 'Number', value: 0 } });
  await patchKv('Ina-1', { n: 1 });
  await rx.waitFor((r) => r.path === '/inactive-control' && r.json?.data?.[0]?.n === 1);
  assert.equal(rx.matching(onPath('/inactive')).length, 0);
  const res = await srv.patch(`/v2/subscriptions/${sid}`, { status: 'active' });
  assert.equal(res.status, 204);
  await patchKv('Ina-1', { n: 2 });
  const n = await rx.waitFor(onPath('/inactive'));
  assert.equal(n.json.data[0].n, 2);
});

test('tenants do not see each other\'s notifications', async () => {
  await subscribe({
    subject: { entities: [{ id: 'Ten-1', type: 'Tenanted' }] },
    notification: { http: { url: `${rx.url}/tenant-a` }, attrsFormat: 'keyValues' },
  }, { 'Fiware-Service': 'tenanta' });
  await subscribe({
    subject: { entities: [{ id: 'Ten-1', type: 'Tenanted' }] },
    notification: { http: { url: `${rx.url}/tenant-b` }, attrsFormat: 'keyValues' },
  }, { 'Fiware-Service': 'tenantb' });
  await create({ id: 'Ten-1', type: 'Tenanted', n: { type: 'Number', value: 0 } }, { 'Fiware-Service': 'tenanta' });
  await create({ id: 'Ten-1', type: 'Tenanted', n: { type: 'Number', value: 100 } }, { 'Fiware-Service': 'tenantb' });
  await patchKv('Ten-1', { n: 1 }, { 'Fiware-Service': 'tenanta' });
  await patchKv('Ten-1', { n: 101 }, { 'Fiware-Service': 'tenantb' });
  await rx.waitFor((r) => r.path === '/tenant-a' && r.json?.data?.[0]?.n === 1);
  await rx.waitFor((r) => r.path === '/tenant-b' && r.json?.data?.[0]?.n === 101);
  assert.ok(rx.matching(onPath('/tenant-a')).every((r) => r.json.data[0].n < 100 && r.headers['fiware-service'] === 'tenanta'));
  assert.ok(rx.matching(onPath('/tenant-b')).every((r) => r.json.data[0].n >= 100 && r.headers['fiware-service'] === 'tenantb'));
});

test('a batch update notifies for each entity', async () => {
  await subscribe({
    subject: { entities: [{ idPattern: '^Bin-', type: 'WasteBinN' }] },
    notification: { http: { url: `${rx.url}/batch` }, attrsFormat: 'keyValues', attrs: ['fill'] },
  });
  const entities = [1, 2, 3].map((i) => ({ id: `Bin-${i}`, type: 'WasteBinN', fill: 10 * i }));
  const res = await srv.post('/v2/op/update?options=keyValues', { actionType: 'append', entities });
  assert.equal(res.status, 204);
  for (const e of entities) {
    await rx.waitFor((r) => r.path === '/batch' && r.json?.data?.some((d) => d.id === e.id && d.fill === e.fill));
  }
});

test('statistics: timesSent, lastNotification, lastSuccess, lastSuccessCode', async () => {
  const sid = await subscribe({
    subject: { entities: [{ id: 'Stat-1', type: 'Stats' }] },
    notification: { http: { url: `${rx.url}/stats` } },
  });
  await create({ id: 'Stat-1', type: 'Stats', n: { type: 'Number', value: 0 } });
  await rx.waitFor(onPath('/stats'));
  const sub = await eventually(async () => {
    const r = await srv.get(`/v2/subscriptions/${sid}`);
    return r.json?.notification?.lastSuccess && r.json;
  }, 10_000, 'lastSuccess');
  assert.equal(sub.notification.timesSent, 1);
  assert.match(sub.notification.lastNotification, /^\d{4}-\d{2}-\d{2}T/);
  assert.match(sub.notification.lastSuccess, /^\d{4}-\d{2}-\d{2}T/);
  assert.equal(sub.notification.lastSuccessCode, 200);
  assert.equal(sub.status, 'active');
});

test('a dead receiver is counted as failure and does not slow updates', async () => {
  const port = await deadPort();
  const sid = await subscribe({
    subject: { entities: [{ idPattern: '^Dead-', type: 'DeadTarget' }] },
    notification: { http: { url: `http://127.0.0.1:${port}/nobody` } },
  });
  // A receiver that accepts the connection and never answers.
  const hang = await startReceiver({ respond: () => 'hang' });
  try {
    await subscribe({
      subject: { entities: [{ idPattern: '^Dead-', type: 'DeadTarget' }] },
      notification: { http: { url: `${hang.url}/hang` } },
    });
    await create({ id: 'Dead-1', type: 'DeadTarget', n: { type: 'Number', value: 0 } });
    // Updates keep being acknowledged promptly while notifications fail or hang: 20 updates,
    // each well under the notification timeout.
    for (let i = 1; i <= 20; i++) {
      const t0 = Date.now();
      await patchKv('Dead-1', { n: i });
      const took = Date.now() - t0;
      assert.ok(took < 1000, `update ${i} took ${took} ms while the receiver was dead/hanging`);
    }
    const sub = await eventually(async () => {
      const r = await srv.get(`/v2/subscriptions/${sid}`);
      return r.json?.notification?.failsCounter >= 1 && r.json;
    }, 15_000, 'failsCounter >= 1');
    assert.ok(sub.notification.timesSent >= 1, `timesSent ${sub.notification.timesSent}`);
    assert.match(sub.notification.lastFailure, /^\d{4}-\d{2}-\d{2}T/);
    assert.equal(sub.notification.lastSuccess, undefined);
    assert.equal(sub.status, 'failed');
    await hang.waitFor(onPath('/hang'));
  } finally {
    await hang.close();
  }
});

test('a receiver answering 500 counts as failure with lastFailure', async () => {
  const bad = await startReceiver({ respond: () => ({ status: 500, body: 'no' }) });
  try {
    const sid = await subscribe({
      subject: { entities: [{ id: 'Err-1', type: 'ErrTarget' }] },
      notification: { http: { url: `${bad.url}/err` } },
    });
    await create({ id: 'Err-1', type: 'ErrTarget', n: { type: 'Number', value: 0 } });
    await bad.waitFor(onPath('/err'));
    const sub = await eventually(async () => {
      const r = await srv.get(`/v2/subscriptions/${sid}`);
      return r.json?.notification?.lastFailure && r.json;
    }, 10_000, 'lastFailure after a 500');
    assert.ok(sub.notification.failsCounter >= 1);
  } finally {
    await bad.close();
  }
});

test('an expired subscription does not notify', async () => {
  await subscribe({
    subject: { entities: [{ id: 'Exp-1', type: 'Expiring' }] },
    notification: { http: { url: `${rx.url}/expired` } },
    expires: '2001-01-01T00:00:00Z',
  });
  await subscribe({
    subject: { entities: [{ id: 'Exp-1', type: 'Expiring' }] },
    notification: { http: { url: `${rx.url}/expired-control` } },
  });
  await create({ id: 'Exp-1', type: 'Expiring', n: { type: 'Number', value: 0 } });
  await patchKv('Exp-1', { n: 1 });
  await rx.waitFor((r) => r.path === '/expired-control' && r.json?.data?.[0]?.n?.value === 1);
  assert.equal(rx.matching(onPath('/expired')).length, 0);
});

test('a deleted subscription stops notifying', async () => {
  const sid = await subscribe({
    subject: { entities: [{ id: 'Del-1', type: 'DelSub' }] },
    notification: { http: { url: `${rx.url}/deleted` } },
  });
  await subscribe({
    subject: { entities: [{ id: 'Del-1', type: 'DelSub' }] },
    notification: { http: { url: `${rx.url}/deleted-control` } },
  });
  await create({ id: 'Del-1', type: 'DelSub', n: { type: 'Number', value: 0 } });
  await rx.waitFor(onPath('/deleted'));
  assert.equal((await srv.del(`/v2/subscriptions/${sid}`)).status, 204);
  await patchKv('Del-1', { n: 1 });
  await rx.waitFor((r) => r.path === '/deleted-control' && r.json?.data?.[0]?.n?.value === 1);
  assert.equal(rx.matching(onPath('/deleted')).length, 1);
});

test('entityDelete: a DELETE and the purge of an expired entity notify, and the purged id can be created again', async () => {
  await subscribe({
    subject: { entities: [{ idPattern: '^Alert-', type: 'RoadAlert' }], condition: { alterationTypes: ['entityDelete'] } },
    notification: { http: { url: `${rx.url}/entity-deleted` }, attrsFormat: 'keyValues' },
  });
  await create({ id: 'Alert-deleted', type: 'RoadAlert', level: { type: 'Text', value: 'yellow' } });
  assert.equal((await srv.del('/v2/entities/Alert-deleted')).status, 204);
  const deleted = await rx.waitFor((r) => r.path === '/entity-deleted' && r.json?.data?.[0]?.id === 'Alert-deleted');
  assert.equal(deleted.json.data[0].level, 'yellow');

  // Expires in 1 s; the maintenance thread purges expired entities every 10 s.
  const expires = new Date(Date.now() + 1000).toISOString();
  await create({ id: 'Alert-expiring', type: 'RoadAlert', level: { type: 'Text', value: 'red' },
    dateExpires: { type: 'DateTime', value: expires } });
  const purged = await rx.waitFor((r) => r.path === '/entity-deleted' && r.json?.data?.[0]?.id === 'Alert-expiring', 30_000);
  assert.equal(purged.json.data[0].level, 'red');
  assert.ok(purged.at >= Date.parse(expires), `notified at ${purged.at}, before the expiry ${expires}`);
  assert.equal((await srv.get('/v2/entities/Alert-expiring')).status, 404);
  // Before the purge a create of the same id is 422 Already Exists; after it, a new entity.
  await create({ id: 'Alert-expiring', type: 'RoadAlert', level: { type: 'Text', value: 'green' } });
  assert.equal(rx.matching((r) => r.path === '/entity-deleted').length, 2);
});

test('alterationType when named, actionType only on the attributes the request wrote, Orion default headers', async () => {
  await subscribe({
    subject: { entities: [{ id: 'Alt-1', type: 'AltType' }] },
    notification: { http: { url: `${rx.url}/alteration` }, attrs: ['alterationType', '*'], metadata: ['actionType'] },
  });
  await create({ id: 'Alt-1', type: 'AltType', a: { type: 'Number', value: 0 }, b: { type: 'Number', value: 0 } });
  await patchKv('Alt-1', { a: 1 });
  const n = await rx.waitFor((r) => r.path === '/alteration' && r.json?.data?.[0]?.a?.value === 1);
  assert.equal(n.headers.accept, 'application/json');
  assert.equal(n.headers['content-type'], 'application/json; charset=utf-8');
  assert.deepEqual(n.json.data[0], {
    id: 'Alt-1', type: 'AltType',
    a: { type: 'Number', value: 1, metadata: { actionType: { type: 'Text', value: 'update' } } },
    b: { type: 'Number', value: 0, metadata: {} },
    alterationType: { type: 'Text', value: 'entityChange', metadata: {} },
  });
  const created = await rx.waitFor((r) => r.path === '/alteration' && r.json?.data?.[0]?.alterationType?.value === 'entityCreate');
  assert.deepEqual(created.json.data[0].b.metadata, { actionType: { type: 'Text', value: 'append' } });
});

test('httpCustom: payload and header values URL-decoded, empty qs and headers left out, "payload": "" is the NGSI body', async () => {
  await subscribe({
    subject: { entities: [{ id: 'Dec-1', type: 'Decoded' }] },
    notification: {
      httpCustom: {
        url: `${rx.url}/decoded`,
        headers: { Authorization: 'Basic QUJD%3D%3D', Accept: '' },
        qs: { lvl: '${level}', none: '${missing}' },
        payload: 'level %3D %22${level}%22 a+b',
      },
    },
  });
  await subscribe({
    subject: { entities: [{ id: 'Dec-1', type: 'Decoded' }] },
    notification: { httpCustom: { url: `${rx.url}/empty-payload`, method: 'PUT', payload: '' }, attrsFormat: 'keyValues' },
  });
  await create({ id: 'Dec-1', type: 'Decoded', level: { type: 'Number', value: 1 } });
  await patchKv('Dec-1', { level: 7 });
  const n = await rx.waitFor((r) => r.path === '/decoded' && r.text.includes('"7"'));
  assert.equal(n.text, 'level = "7" a+b');
  assert.equal(n.headers.authorization, 'Basic QUJD==');
  assert.equal(n.headers.accept, undefined);
  assert.equal(n.headers['content-type'], 'text/plain; charset=utf-8');
  assert.deepEqual(n.query, { lvl: '7' });
  const e = await rx.waitFor((r) => r.path === '/empty-payload' && r.json?.data?.[0]?.level === 7);
  assert.equal(e.method, 'PUT');
  assert.equal(e.headers['ngsiv2-attrsformat'], 'keyValues');
  assert.equal(e.headers['content-type'], 'application/json; charset=utf-8');
});

test('an entity\'s notifications reach the receiver one at a time, in the order its updates were applied', async () => {
  // A receiver that mirrors the entity, taking longer over some notifications as one writing
  // to a database does, and applying each when it is done with it.
  const applied = [];
  let open = 0;
  let mostOpen = 0;
  let allApplied;
  const done = new Promise((resolve) => { allApplied = resolve; });
  const writers = 6;
  const levels = riverLevels(20);
  const total = 1 + writers * levels.length;  // the creation, then every update
  const mirror = http.createServer((req, res) => {
    mostOpen = Math.max(mostOpen, ++open);
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const entity = JSON.parse(Buffer.concat(chunks).toString('utf8')).data[0];
      setTimeout(() => {
        open--;
        applied.push(entity.seq);
        res.end();
        if (applied.length === total) allApplied();
      }, entity.seq % 3 === 1 ? 8 : 0);
    });
  });
  mirror.listen(0, '127.0.0.1');
  await once(mirror, 'listening');
  try {
    await subscribe({
      subject: { entities: [{ id: 'Order-1', type: 'OrderedGauge' }] },
      notification: { http: { url: `http://127.0.0.1:${mirror.address().port}/mirror` }, attrsFormat: 'keyValues' },
    });
    await create({ id: 'Order-1', type: 'OrderedGauge', seq: { type: 'Number', value: 0 }, level: { type: 'Number', value: 0 } });
    // Several writers at once, so that the server, not the test, decides the order.
    await Promise.all(Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < levels.length; i++) {
        await patchKv('Order-1', { seq: 1 + w * levels.length + i, level: levels[i] });
      }
    }));
    await deadline(done, 20_000, `the mirror applied ${applied.length} of ${total} notifications`);
    const history = await srv.get(`/ql/v2/entities/Order-1/attrs/seq?limit=${total}`);
    assert.equal(history.status, 200, history.text);
    assert.deepEqual(applied, history.json.values, 'the mirror applied the updates in the order of the history');
    const current = await srv.get('/v2/entities/Order-1?options=keyValues&attrs=seq');
    assert.equal(applied.at(-1), current.json.seq, 'the last notification carried the current value');
    assert.equal(mostOpen, 1, 'never two notifications about the entity at once');
  } finally {
    mirror.closeAllConnections();
    mirror.close();
  }
});

test('a clean stop leaves the waiting notifications unsent, says how many, and does not count them against the receiver', async () => {
  const own = await startServer();
  const silent = await startReceiver({ respond: () => 'hang' });
  try {
    const res = await own.post('/v2/subscriptions', {
      subject: { entities: [{ id: 'Stop-1', type: 'StopGauge' }] },
      notification: { http: { url: `${silent.url}/silent` }, attrsFormat: 'keyValues', maxFailsLimit: 1 },
    });
    assert.equal(res.status, 201, res.text);
    const sid = res.headers.get('location').split('/').pop();
    const created = await own.post('/v2/entities?options=keyValues', { id: 'Stop-1', type: 'StopGauge', level: 0 });
    assert.equal(created.status, 201, created.text);
    for (let level = 1; level <= 5; level++) {
      const r = await own.patch('/v2/entities/Stop-1/attrs?options=keyValues', { level });
      assert.equal(r.status, 204, r.text);
    }
    await silent.waitFor((r) => r.path === '/silent');
    const { code } = await own.stop();
    assert.equal(code, 0, own.stderr);
    assert.match(own.stderr, /6 notifications were not delivered because the server stopped/);
    assert.equal(silent.matching((r) => r.path === '/silent').length, 1, 'the others waited behind the first');
    await own.start();
    const sub = await own.get(`/v2/subscriptions/${sid}`);
    assert.equal(sub.json.status, 'active', JSON.stringify(sub.json));
    assert.equal(sub.json.notification.timesSent, 6);
    assert.equal(sub.json.notification.failsCounter, undefined);
    assert.equal(sub.json.notification.lastFailure, undefined);
  } finally {
    await silent.close();
    await own.close();
  }
});

test('notifications waiting when their subscription is deleted are withdrawn, not sent', async () => {
  const own = await startServer();
  const held = await startReceiver({ respond: (r) => (r.path === '/held' && r.json?.data?.[0]?.level === 1 ? 'hang' : { status: 200 }) });
  try {
    const res = await own.post('/v2/subscriptions', {
      subject: { entities: [{ id: 'Withdraw-1', type: 'WithdrawGauge' }] },
      notification: { http: { url: `${held.url}/held` }, attrsFormat: 'keyValues' },
    });
    assert.equal(res.status, 201, res.text);
    const sid = res.headers.get('location').split('/').pop();
    assert.equal((await own.post('/v2/entities?options=keyValues', { id: 'Withdraw-1', type: 'WithdrawGauge', level: 1 })).status, 201);
    for (let level = 2; level <= 5; level++) {
      assert.equal((await own.patch('/v2/entities/Withdraw-1/attrs?options=keyValues', { level })).status, 204);
    }
    await held.waitFor((r) => r.path === '/held');
    assert.equal(await metric(own, 'zhicheng_notifications_in_progress'), 5, 'one with the receiver, four waiting');
    assert.equal((await own.del(`/v2/subscriptions/${sid}`)).status, 204);
    held.hanging.shift().end();
    await eventually(async () => (await metric(own, 'zhicheng_notifications_in_progress')) === 0, 10_000, 'the lane to empty');
    assert.equal(await metric(own, 'zhicheng_notifications_withdrawn_total'), 4);
    assert.deepEqual(held.matching((r) => r.path === '/held').map((r) => r.json.data[0].level), [1]);
  } finally {
    await held.close();
    await own.close();
  }
});

test('[notifications] a receiver that sends its head and stalls: its status counts, once, and the connection is not kept', async () => {
  const own = await startServer();
  // Answers every request with a head announcing 100 bytes, sends 3 and holds the rest back.
  const sockets = [];
  let requests = 0;
  const stalling = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('data', () => {
      requests += 1;
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc');
    });
  });
  stalling.listen(0, '127.0.0.1');
  await once(stalling, 'listening');
  const url = `http://127.0.0.1:${stalling.address().port}/stalls`;
  try {
    const res = await own.post('/v2/subscriptions', {
      subject: { entities: [{ id: 'Stall-1', type: 'StallGauge' }] },
      notification: { http: { url, timeout: 300 }, attrsFormat: 'keyValues' },
    });
    assert.equal(res.status, 201, res.text);
    const sid = res.headers.get('location').split('/').pop();
    const created = await own.post('/v2/entities?options=keyValues', { id: 'Stall-1', type: 'StallGauge', level: 1 });
    assert.equal(created.status, 201, created.text);
    const first = await eventually(async () => {
      const r = await own.get(`/v2/subscriptions/${sid}`);
      return r.json.notification.lastSuccess ? r.json : null;
    }, 20_000, 'the first notification to be counted');
    assert.equal(first.notification.lastSuccessCode, 200);
    assert.equal(first.notification.failsCounter ?? 0, 0);
    assert.equal(first.notification.lastFailure, undefined, 'the stalled body is no failure');
    assert.equal(first.status, 'active');
    const updated = await own.patch('/v2/entities/Stall-1/attrs?options=keyValues', { level: 2 });
    assert.equal(updated.status, 204, updated.text);
    const second = await eventually(async () => {
      const r = await own.get(`/v2/subscriptions/${sid}`);
      return r.json.notification.timesSent === 2 && r.json.notification.lastSuccess !== first.notification.lastSuccess ? r.json : null;
    }, 20_000, 'the second notification to be counted');
    assert.equal(second.notification.lastFailure, undefined);
    assert.equal(requests, 2, 'each notification sent once: a status is final, nothing was retried');
    assert.equal(sockets.length, 2, 'the stalled connection was not used again');
  } finally {
    for (const socket of sockets) socket.destroy();
    stalling.close();
    await own.close();
  }
});

test('[notifications] allowed_networks: an address outside them is refused at once, a name that resolves outside them is never connected to', async () => {
  const own = await startServer({ config: '[notifications]\nallowed_networks = ["10.0.0.0/8", "fd00::/8"]\n' });
  const outside = await startReceiver();
  try {
    const metadata = await own.post('/v2/subscriptions', {
      subject: { entities: [{ id: 'Net-1', type: 'NetGauge' }] },
      notification: { http: { url: 'http://169.254.169.254/latest/meta-data' } },
    });
    assert.equal(metadata.status, 400, metadata.text);
    assert.deepEqual(metadata.json, {
      error: 'BadRequest',
      description: 'notification url: 169.254.169.254 is outside [notifications] allowed_networks',
    });
    const listed = await own.get('/v2/subscriptions');
    assert.deepEqual(listed.json, [], 'nothing was created');
    // A host name is only known once resolved: refused when the notification connects.
    const res = await own.post('/v2/subscriptions', {
      subject: { entities: [{ id: 'Net-1', type: 'NetGauge' }] },
      notification: { http: { url: `http://localhost:${outside.port}/outside` }, attrsFormat: 'keyValues' },
    });
    assert.equal(res.status, 201, res.text);
    const sid = res.headers.get('location').split('/').pop();
    const created = await own.post('/v2/entities?options=keyValues', { id: 'Net-1', type: 'NetGauge', level: 1 });
    assert.equal(created.status, 201, created.text);
    const sub = await eventually(async () => {
      const r = await own.get(`/v2/subscriptions/${sid}`);
      return r.json.notification.failsCounter === 1 ? r.json : null;
    }, 10_000, 'the failure to be recorded');
    assert.match(sub.notification.lastFailureReason, /^localhost \((127\.0\.0\.1|::1)\) is outside the allowed networks$/);
    assert.equal(outside.connections, 0, 'no connection was made');
    const moved = await own.patch(`/v2/subscriptions/${sid}`, { notification: { http: { url: 'http://[fe80::1]/n' } } });
    assert.equal(moved.status, 400, moved.text);
    const kept = await own.get(`/v2/subscriptions/${sid}`);
    assert.equal(kept.json.notification.http.url, `http://localhost:${outside.port}/outside`);
  } finally {
    await outside.close();
    await own.close();
  }
});

test('an updated subject decides which changes notify, from the next change on', async () => {
  const timesSent = async (sid) => {
    const res = await srv.get(`/v2/subscriptions/${sid}`);
    assert.equal(res.status, 200, res.text);
    return res.json.notification.timesSent ?? 0;
  };
  // Subscriptions of other types and ids around it, so that the change is matched among many.
  for (let i = 0; i < 20; i++) {
    await subscribe({ subject: { entities: [{ id: `IdxOther-${i}`, type: 'IdxRoom' }, { idPattern: '.*', type: `IdxType${i}` }] }, notification: { http: { url: `${rx.url}/idx-other` } } });
  }
  const sid = await subscribe({
    subject: { entities: [{ idPattern: '^Idx-', type: 'IdxRoom' }] },
    notification: { http: { url: `${rx.url}/idx` }, attrs: ['n'] },
  });
  await create({ id: 'Idx-R1', type: 'IdxRoom', n: { type: 'Number', value: 0 } });
  await create({ id: 'Idx-C1', type: 'IdxCar', n: { type: 'Number', value: 0 } });
  assert.equal(await timesSent(sid), 1, 'the room was created');
  await patchKv('Idx-R1', { n: 1 });
  assert.equal(await timesSent(sid), 2);
  await patchKv('Idx-C1', { n: 1 });
  assert.equal(await timesSent(sid), 2, 'a car is not in the subject');

  const res = await srv.patch(`/v2/subscriptions/${sid}`, { subject: { entities: [{ id: 'Idx-C1', type: 'IdxCar' }] } });
  assert.equal(res.status, 204, res.text);
  await patchKv('Idx-R1', { n: 2 });
  assert.equal(await timesSent(sid), 2, 'the room is no longer in the subject');
  await patchKv('Idx-C1', { n: 2 });
  assert.equal(await timesSent(sid), 3, 'the car is');
  const n = await rx.waitFor((r) => r.path === '/idx' && r.json?.data?.[0]?.id === 'Idx-C1');
  assert.equal(n.json.data[0].n.value, 2);
  assert.equal(n.json.subscriptionId, sid);
});

test('a burst larger than the outbound connections waits its turn: every notification arrives, none fails or drops', async () => {
  const own = await startServer({ config: '[notifications]\nmax_in_flight = 2\n' });
  const burst = await startReceiver();
  try {
    const sids = [];
    for (let i = 0; i < 5; i++) {
      const res = await own.post('/v2/subscriptions', { subject: { entities: [{ idPattern: '.*', type: 'BurstMeter' }] }, notification: { http: { url: `${burst.url}/burst` } } });
      assert.equal(res.status, 201, res.text);
      sids.push(res.headers.get('location').split('/').pop());
    }
    const entities = Array.from({ length: 100 }, (_, i) => ({ id: `Burst-${i}`, type: 'BurstMeter', reading: { type: 'Number', value: i } }));
    const res = await own.post('/v2/op/update', { actionType: 'append', entities });
    assert.equal(res.status, 204, res.text);
    // 5 subscriptions x 100 created entities, at most 2 on the wire at once.
    await eventually(() => burst.requests.length >= 500, 30_000, '500 notifications');
    const pairs = new Set(burst.requests.map((r) => `${r.json?.subscriptionId}/${r.json?.data?.[0]?.id}`));
    assert.equal(pairs.size, 500, 'each subscription notified each entity once');
    assert.ok(sids.every((sid) => pairs.has(`${sid}/Burst-99`)));
    await eventually(async () => (await metric(own, 'zhicheng_notifications_sent_total')) === 500, 10_000, 'all counted as sent');
    assert.equal(await metric(own, 'zhicheng_notifications_failed_total'), 0);
    assert.equal(await metric(own, 'zhicheng_notifications_dropped_total'), 0);
  } finally {
    await burst.close();
    await own.close();
  }
});

test('a subscription pattern too complex for an entity id is no match, and the server goes on', async () => {
  // Boost.Regex gives up on `(a+)+$` over a long run of `a` ending in something else; that
  // exception, on the writer thread, used to end the process at the entity's creation.
  await subscribe({ subject: { entities: [{ idPattern: '(a+)+$' }] }, notification: { http: { url: `${rx.url}/redos` } } });
  const sid = await subscribe({ subject: { entities: [{ idPattern: '^a+!$', type: 'Redos' }] }, notification: { http: { url: `${rx.url}/redos-control` } } });
  const id = `${'a'.repeat(64)}!`;
  await create({ id, type: 'Redos', n: { type: 'Number', value: 1 } });
  const r = await srv.get('/readyz');
  assert.equal(r.status, 200);
  const n = await rx.waitFor((q) => q.path === '/redos-control');
  assert.equal(n.json.subscriptionId, sid);
  assert.equal(rx.matching((q) => q.path === '/redos').length, 0);
});

test('a receiver that never answers holds only its share: another receiver is notified at once', async () => {
  const own = await startServer({ config: '[notifications]\nmax_in_flight = 4\nmax_in_flight_per_receiver = 2\nmax_in_progress = 40\nmax_in_progress_per_receiver = 30\n' });
  const dead = await startReceiver({ respond: () => 'hang' });
  const live = await startReceiver();
  try {
    let res = await own.post('/v2/subscriptions', { subject: { entities: [{ idPattern: '.*', type: 'Jam' }] }, notification: { http: { url: `${dead.url}/dead` }, timeout: 60000 } });
    assert.equal(res.status, 201, res.text);
    // 50 notifications for the dead receiver: 2 on the wire (until their 60 s timeout), 28
    // waiting, 20 dropped past its share of 30 of the 40 in progress.
    const jam = Array.from({ length: 50 }, (_, i) => ({ id: `Jam-${i}`, type: 'Jam', n: { type: 'Number', value: i } }));
    res = await own.post('/v2/op/update', { actionType: 'append', entities: jam });
    assert.equal(res.status, 204, res.text);
    await eventually(async () => (await metric(own, 'zhicheng_notifications_dropped_total')) === 20, 10_000, '20 dropped');
    res = await own.post('/v2/subscriptions', { subject: { entities: [{ idPattern: '.*', type: 'Fine' }] }, notification: { http: { url: `${live.url}/live` } } });
    assert.equal(res.status, 201, res.text);
    for (let i = 0; i < 3; i++) {
      res = await own.post('/v2/entities', { id: `Fine-${i}`, type: 'Fine', n: { type: 'Number', value: i } });
      assert.equal(res.status, 201, res.text);
      const n = await live.waitFor((r) => r.json?.data?.[0]?.id === `Fine-${i}`, 5_000);
      assert.equal(n.json.data[0].n.value, i);
    }
    assert.equal(await metric(own, 'zhicheng_notifications_dropped_total'), 20, 'none of the live receiver\'s');
    await eventually(() => dead.matching().length >= 2, 5_000, 'two requests at the dead receiver');
    assert.equal(dead.matching().length, 2, 'two requests on the wire to the dead receiver, no more');
  } finally {
    await dead.close();
    await live.close();
    await own.close();
  }
});
