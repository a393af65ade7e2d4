// Loads the demo district's entities into a running Zhicheng (POST /v2/op/update, append,
// so running it twice is harmless). Values come from real public data in
// ../shared/data/real (see its README): the last complete hours of the Guangzhou weather
// and PM2.5 record, the last days of a river level series, and a recorded GPS track moved
// onto Gaoming's streets (the track's shape, not its place, is what matters here).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const base = process.argv[2] || 'http://127.0.0.1:8080';
const token = process.env.ZHICHENG_ADMIN_TOKEN;  // the demo's admin token (scripts/demo)
const auth = { Authorization: `Bearer ${token}` };
const here = path.dirname(fileURLToPath(import.meta.url));
const real = path.resolve(here, '..', '..', 'shared', 'data', 'real');
const gaoming = { lat: 22.8967, lon: 112.8822 };  // 高明区 荷城街道

function lastRows(file, n, keep) {
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  const header = lines[0].split(',');
  const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i], v])));
  return rows.filter(keep).slice(-n);
}

function weatherSeries() {
  const rows = lastRows(path.join(real, 'guangzhou-pm25', 'GuangzhouPM20100101_20151231.csv'), 6,
    (r) => r.TEMP !== 'NA' && r.HUMI !== 'NA' && r['PM_US Post'] !== 'NA');
  return rows.map((r) => ({
    temperature: { type: 'Number', value: Number(r.TEMP), metadata: { unitCode: { type: 'Text', value: 'CEL' } } },
    relativeHumidity: { type: 'Number', value: Number(r.HUMI) / 100 },
    atmosphericPressure: { type: 'Number', value: Number(r.PRES) },
    precipitation: { type: 'Number', value: Number(r.precipitation) },
    pm25: { type: 'Number', value: Number(r['PM_US Post']) },
  }));
}

function riverSeries() {
  const rows = lastRows(path.join(real, 'rain-river-nl', 'nb5_riv.csv'), 6, (r) => r.River !== '');
  return rows.map((r) => ({ waterLevel: { type: 'Number', value: Math.round((3 + Number(r.River)) * 1000) / 1000 } }));
}

function truckTrack() {
  const gpx = fs.readFileSync(path.join(real, 'gps-trace-gpx', 'korita-zbevnica.gpx'), 'utf8');
  const pts = [...gpx.matchAll(/<trkpt lat="([\d.-]+)" lon="([\d.-]+)"/g)].slice(0, 60).map((m) => [Number(m[1]), Number(m[2])]);
  const [lat0, lon0] = pts[0];
  return pts.filter((_, i) => i % 10 === 0).map(([lat, lon]) => ({
    location: { type: 'geo:json', value: { type: 'Point', coordinates: [+(gaoming.lon + 0.01 + lon - lon0).toFixed(6), +(gaoming.lat - 0.005 + lat - lat0).toFixed(6)] } },
  }));
}

async function post(body) {
  const res = await fetch(`${base}/v2/op/update`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 204) throw new Error(`op/update answered ${res.status}: ${await res.text()}`);
}

// Creates an identity object unless it exists (409 on a second demo run is fine).
async function ensure(path, body) {
  const res = await fetch(`${base}/api/identity/${path}`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 201 && res.status !== 409) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
}

// The demo district's organisation and two people to log in as (passwords printed by scripts/demo).
async function seedIdentity() {
  await ensure('departments', { code: '440608', name: '佛山市高明区', kind: 'district' });
  await ensure('departments', { code: '440608-cg', name: '高明区城市管理和综合执法局', parent: '440608', kind: 'department' });
  await ensure('departments', { code: '440608-sw', name: '高明区水利局', parent: '440608', kind: 'department' });
  await ensure('departments', { code: '440608001', name: '荷城街道', parent: '440608', kind: 'street' });
  await ensure('users', { login: 'zhiban', displayName: '指挥中心值班长', department: '440608-cg', roles: ['operator'],
    tenants: [{ tenant: '', path: '/', write: false }], password: 'Gaoming-Zhiban-2026' });
  await ensure('users', { login: 'shenji', displayName: '安全审计员', department: '440608', roles: ['security_auditor'],
    tenants: [], password: 'Gaoming-Shenji-2026' });
}
await seedIdentity();

const station = { id: 'urn:ngsi-ld:WeatherObserved:gaoming-001', type: 'WeatherObserved',
  name: { type: 'Text', value: '高明区荷城气象站' }, address: { type: 'StructuredValue', value: { addressRegion: '广东省', addressLocality: '佛山市高明区', areaCode: '440608' } },
  location: { type: 'geo:json', value: { type: 'Point', coordinates: [gaoming.lon, gaoming.lat] } } };
const gauge = { id: 'urn:ngsi-ld:WaterLevelObserved:canglong-01', type: 'WaterLevelObserved',
  name: { type: 'Text', value: '沧江沧龙水位站' }, alertLevel: { type: 'Number', value: 3.5 },
  location: { type: 'geo:json', value: { type: 'Point', coordinates: [112.8725, 22.9021] } } };
const truck = { id: 'urn:ngsi-ld:Vehicle:粤E-D1234', type: 'Vehicle', vehicleType: { type: 'Text', value: 'muckTruck' },
  name: { type: 'Text', value: '渣土车 粤E·D1234' }, owner: { type: 'Text', value: '高明区某运输公司' } };

const weather = weatherSeries();
const river = riverSeries();
const track = truckTrack();
await post({ actionType: 'append', entities: [{ ...station, ...weather[0] }, { ...gauge, ...river[0] }, { ...truck, ...track[0] }] });
// A few updates each, so that history (/ql/v2) has something to show.
for (let i = 1; i < 6; i++) {
  await post({ actionType: 'append', entities: [
    { id: station.id, type: station.type, ...weather[i] },
    { id: gauge.id, type: gauge.type, ...river[i] },
    { id: truck.id, type: truck.type, ...track[Math.min(i, track.length - 1)], speed: { type: 'Number', value: 18 + i * 3 } },
  ] });
}
console.log(`loaded 3 demo entities into ${base} (weather station, river gauge, muck truck) with 6 observations each`);
