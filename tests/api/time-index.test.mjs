// History indexed at the time a device states (its TimeInstant), as QuantumLeap indexes it:
// a station's buffered week of real Guangzhou readings arrives out of order, as IoT Agents
// send it (TimeInstant attribute and TimeInstant metadata on each measure), and /ql/v2 answers
// by the hours of the readings, not by when they arrived. /v2 keeps the change time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, sharedDir, parseCsvLine, beijingAirQuality, refusedStart } from './harness.mjs';

/** The hourly rows of the first week of July 2015 at the US Post station, Guangzhou. */
function guangzhouWeek() {
  const file = path.join(sharedDir, 'data', 'real', 'guangzhou-pm25', 'GuangzhouPM20100101_20151231.csv');
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const head = parseCsvLine(lines[0]);
  const col = (row, name) => row[head.indexOf(name)];
  const pad = (v) => String(v).padStart(2, '0');
  const out = [];
  for (const line of lines.slice(1)) {
    const r = parseCsvLine(line);
    if (col(r, 'year') !== '2015' || col(r, 'month') !== '7' || Number(col(r, 'day')) > 7) continue;
    const pm25 = col(r, 'PM_US Post');
    const temp = col(r, 'TEMP');
    if (pm25 === 'NA' || temp === 'NA') continue;
    const when = new Date(`2015-07-${pad(col(r, 'day'))}T${pad(col(r, 'hour'))}:00:00+08:00`);
    out.push({ time: when.toISOString(), pm25: Number(pm25), temperature: Number(temp) });
  }
  return out;
}

/** The body an IoT Agent sends for one measure. */
function measure(m) {
  const stamp = { TimeInstant: { type: 'DateTime', value: m.time } };
  return {
    pm25: { type: 'Number', value: m.pm25, metadata: stamp },
    temperature: { type: 'Number', value: m.temperature, metadata: stamp },
    TimeInstant: { type: 'DateTime', value: m.time },
  };
}

/** Days delivered out of order (a logger that uploads its buffer late), hours in order. */
function deliveryOrder(week) {
  const byDay = new Map();
  for (const m of week) {
    const day = m.time.slice(0, 10);
    if (!byDay.has(day)) byDay.set(day, []);
    byDay.get(day).push(m);
  }
  const days = [...byDay.keys()];
  const order = [3, 0, 5, 1, 6, 2, 4].filter((i) => i < days.length);
  return order.flatMap((i) => byDay.get(days[i])).concat(
    days.filter((_, i) => !order.includes(i)).flatMap((d) => byDay.get(d)));
}

/** Means of `attr` by UTC day (QuantumLeap's aggrPeriod=day buckets), in day order. */
function dailyMeans(week, attr) {
  const sums = new Map();
  for (const m of week) {
    const day = `${m.time.slice(0, 10)}T00:00:00.000Z`;
    const s = sums.get(day) || { sum: 0, n: 0 };
    s.sum += m[attr];
    s.n += 1;
    sums.set(day, s);
  }
  return [...sums.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([day, s]) => ({ day, mean: s.sum / s.n }));
}

test('a buffered week of real readings is indexed at its own hours, before and after kill -9', async () => {
  const week = guangzhouWeek();
  assert.ok(week.length > 150, `expected about 168 hourly rows, got ${week.length}`);
  const delivered = deliveryOrder(week);
  assert.notDeepEqual(delivered.map((m) => m.time), week.map((m) => m.time), 'the delivery is out of order');
  const srv = await startServer();
  try {
    const startedAt = Date.now();
    let r = await srv.post('/v2/entities', { id: 'GZ-USPost', type: 'AirQualityObserved', ...measure(delivered[0]) });
    assert.equal(r.status, 201, r.text);
    for (const m of delivered.slice(1)) {
      r = await srv.patch('/v2/entities/GZ-USPost/attrs', measure(m));
      assert.equal(r.status, 204, r.text);
    }

    const check = async () => {
      const series = await srv.get('/ql/v2/entities/GZ-USPost/attrs/pm25?limit=1000');
      assert.equal(series.status, 200, series.text);
      assert.deepEqual(series.json.index, week.map((m) => m.time.replace('.000Z', '.000+00:00')));
      assert.deepEqual(series.json.values, week.map((m) => m.pm25));

      const last = await srv.get('/ql/v2/entities/GZ-USPost/attrs/temperature?lastN=3');
      assert.equal(last.status, 200, last.text);
      assert.deepEqual(last.json.values, week.slice(-3).map((m) => m.temperature));

      // One China day, written with its +08:00 offset.
      const day = await srv.get('/ql/v2/entities/GZ-USPost/attrs/pm25' +
        '?fromDate=2015-07-03T00:00:00%2B08:00&toDate=2015-07-03T23:59:59%2B08:00&limit=1000');
      assert.equal(day.status, 200, day.text);
      const inDay = week.filter((m) => m.time >= '2015-07-02T16:00:00.000Z' && m.time < '2015-07-03T16:00:00.000Z');
      assert.deepEqual(day.json.values, inDay.map((m) => m.pm25));

      const avg = await srv.get('/ql/v2/entities/GZ-USPost/attrs/pm25?aggrMethod=avg&aggrPeriod=day');
      assert.equal(avg.status, 200, avg.text);
      const expected = dailyMeans(week, 'pm25');
      assert.deepEqual(avg.json.index, expected.map((d) => d.day.replace('.000Z', '.000+00:00')));
      expected.forEach((d, i) => assert.ok(Math.abs(avg.json.values[i] - d.mean) < 1e-9,
        `${d.day}: ${avg.json.values[i]} vs ${d.mean}`));

      // The current state is the last write, modified when it was written, as Orion keeps it.
      const now = await srv.get('/v2/entities/GZ-USPost?options=keyValues');
      assert.equal(now.json.pm25, delivered.at(-1).pm25);
      const attr = await srv.get('/v2/entities/GZ-USPost/attrs/pm25?metadata=dateModified');
      assert.ok(Date.parse(attr.json.metadata.dateModified.value) >= startedAt - 1000, attr.text);
    };
    await check();
    await srv.kill9();
    await srv.restart();
    await check();
  } finally {
    await srv.close();
  }
});

test('without a stated time, or with the time index switched off, history uses the change time', async () => {
  const srv = await startServer({ config: '[context]\nhistory_time_index = ""\n' });
  try {
    const before = Date.now();
    const r = await srv.post('/v2/entities', {
      id: 'GZ-Off', type: 'AirQualityObserved', ...measure({ time: '2015-07-01T00:00:00.000Z', pm25: 12, temperature: 30 }),
    });
    assert.equal(r.status, 201, r.text);
    const series = await srv.get('/ql/v2/entities/GZ-Off/attrs/pm25');
    assert.equal(series.status, 200, series.text);
    assert.ok(Date.parse(series.json.index[0]) >= before - 1000, series.text);
  } finally {
    await srv.close();
  }
});

test('with dateObserved in the list, a batch of real observations is indexed at its hours', async () => {
  const srv = await startServer({ config: '[context]\nhistory_time_index = ["TimeInstant", "dateObserved"]\n' });
  try {
    const aq = beijingAirQuality(24); // AQ-0 … AQ-23, one hour of March 2013 each
    const r = await srv.post('/v2/op/update', { actionType: 'append', entities: aq });
    assert.equal(r.status, 204, r.text);
    const all = await srv.get('/ql/v2/types/AirQualityObserved/attrs/temperature');
    assert.equal(all.status, 200, all.text);
    const got = Object.fromEntries(all.json.entities.map((e) => [e.entityId, e.index]));
    for (const e of aq) {
      assert.deepEqual(got[e.id], [e.dateObserved.value.replace('.000Z', '.000+00:00')], e.id);
    }
  } finally {
    await srv.close();
  }
});

test('history_time_index must be a string or a list of strings', () => {
  const r = refusedStart('[context]\nhistory_time_index = 5\n');
  assert.match(r.stderr, /\[context\] history_time_index must be a list of strings or a string/);
});
