// The real FIWARE IoT Agent library (npm iotagent-node-lib, which every FIWARE IoT Agent is
// built on) against Zhicheng as its context broker: it provisions a device and sends a
// logger's buffered hourly measures, each an upsert of the entity with the TimeInstant the
// agent attaches. The agent authenticates with a device account's API key as a permanent
// OAuth2 token. Measures are real: the Beijing Aotizhongxin air-quality record.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { startServer, deadPort, beijingAirQuality } from './harness.mjs';

const require = createRequire(import.meta.url);
const iotAgentLib = require('iotagent-node-lib');

const TENANT = { 'Fiware-Service': 'gaoming', 'Fiware-ServicePath': '/hecheng' };
const ENTITY = 'urn:ngsi-ld:AirQualityObserved:aotizhongxin';
const HOURS = 12;

let srv;
let device;

before(async () => {
  srv = await startServer();
  const account = await srv.post('/api/identity/service-accounts', {
    clientId: 'iota-gaoming', name: '高明区物联网代理', kind: 'device', roles: ['device'],
    tenants: [{ tenant: 'gaoming', path: '/hecheng', write: true }],
  });
  assert.equal(account.status, 201, account.text);
  const key = await srv.post('/api/identity/service-accounts/iota-gaoming/api-keys', {});
  assert.equal(key.status, 201, key.text);
  const northPort = await deadPort();
  await promisify(iotAgentLib.activate)({
    logLevel: process.env.IOTA_LOG || 'FATAL',
    contextBroker: { url: srv.url, ngsiVersion: 'v2' },
    server: { host: '127.0.0.1', port: northPort },
    // A permanent token: the agent sends the device's `trust` as "Authorization: Bearer ...".
    authentication: {
      enabled: true, type: 'oauth2', header: 'Authorization', permanentToken: true,
      url: `http://127.0.0.1:${await deadPort()}`, tokenPath: '/oauth2/token', clientId: 'unused', clientSecret: 'unused',
    },
    deviceRegistry: { type: 'memory' },
    types: {},
    service: 'gaoming',
    subservice: '/hecheng',
    providerUrl: `http://127.0.0.1:${northPort}`,
    defaultType: 'Thing',
    timestamp: true,
  });
  device = await promisify(iotAgentLib.register)({
    id: 'aq-aotizhongxin', name: ENTITY, type: 'AirQualityObserved',
    service: 'gaoming', subservice: '/hecheng', trust: key.json.token,
    active: [{ object_id: 'p', name: 'pm25', type: 'Number' }, { object_id: 't', name: 'temperature', type: 'Number' }],
    lazy: [], commands: [],
    staticAttributes: [{ name: 'location', type: 'geo:json', value: { type: 'Point', coordinates: [116.397, 39.982] } }],
  });
});

after(async () => {
  await promisify(iotAgentLib.deactivate)().catch(() => {});
  await srv?.close();
});

test('iotagent-node-lib: buffered measures keep their own hours in the history', async () => {
  const rows = beijingAirQuality(HOURS);
  const update = promisify(iotAgentLib.update);
  // As an UltraLight agent passes measures on: named by their object ids, numbers as text,
  // the newest hour first (a logger emptying its buffer after a network outage).
  for (const row of [...rows].reverse()) {
    await update(ENTITY, 'AirQualityObserved', '', [
      { name: 'p', type: 'Number', value: String(row.pm25.value) },
      { name: 't', type: 'Number', value: String(row.temperature.value) },
      { name: 'TimeInstant', type: 'DateTime', value: row.dateObserved.value },
    ], device);
  }
  // The first measure created the entity (an upsert), with the device's static attributes.
  const now = await srv.get(`/v2/entities/${encodeURIComponent(ENTITY)}?options=keyValues`, { headers: TENANT });
  assert.equal(now.status, 200, now.text);
  assert.equal(now.json.type, 'AirQualityObserved');
  assert.deepEqual(now.json.location, { type: 'Point', coordinates: [116.397, 39.982] });
  assert.equal(now.json.pm25, String(rows[0].pm25.value), 'the last measure sent is the current value');
  assert.equal(now.json.TimeInstant, rows[0].dateObserved.value);
  const history = await srv.get(`/ql/v2/entities/${encodeURIComponent(ENTITY)}/attrs/pm25`, { headers: TENANT });
  assert.equal(history.status, 200, history.text);
  assert.deepEqual(history.json.index.map((t) => new Date(t).toISOString()), rows.map((r) => r.dateObserved.value),
    'indexed at the hours the agent stated, in time order');
  assert.deepEqual(history.json.values, rows.map((r) => r.pm25.value), 'Number measures sent as text read as numbers');
  const mean = await srv.get(`/ql/v2/entities/${encodeURIComponent(ENTITY)}/attrs/temperature?aggrMethod=avg`, { headers: TENANT });
  const expected = rows.reduce((s, r) => s + r.temperature.value, 0) / HOURS;
  assert.ok(Math.abs(mean.json.values[0] - expected) < 1e-9, `avg ${mean.json.values[0]} vs ${expected}`);
});

test('iotagent-node-lib: a device key reaches only its granted service path', async () => {
  const other = await promisify(iotAgentLib.register)({
    id: 'aq-yanghe', name: 'urn:ngsi-ld:AirQualityObserved:yanghe', type: 'AirQualityObserved',
    service: 'gaoming', subservice: '/yanghe', trust: device.trust,
    active: [{ object_id: 'p', name: 'pm25', type: 'Number' }], lazy: [], commands: [],
  });
  const sent = await promisify(iotAgentLib.update)('urn:ngsi-ld:AirQualityObserved:yanghe', 'AirQualityObserved', '',
    [{ name: 'p', type: 'Number', value: '80' }], other).then(() => null, (err) => err);
  assert.equal(sent?.name, 'ACCESS_FORBIDDEN', `the agent reports the refusal: ${sent}`);
  const r = await srv.get('/v2/entities/urn:ngsi-ld:AirQualityObserved:yanghe',
    { headers: { 'Fiware-Service': 'gaoming', 'Fiware-ServicePath': '/yanghe' } });
  assert.equal(r.status, 404, 'nothing was written');
});
