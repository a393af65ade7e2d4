// Update operators under concurrency: many clients counting one turnstile at once through
// $inc (and $push) must lose no increment, since the server applies each operator to the
// latest state rather than to what a client read earlier.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './harness.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.close(); });

test('200 concurrent $inc and $push on one entity: none is lost', async () => {
  const created = await srv.post('/v2/entities?options=keyValues',
    { id: 'Turnstile-9', type: 'Turnstile', count: 0, seen: [] });
  assert.equal(created.status, 201, created.text);
  const writes = [];
  for (let i = 0; i < 200; i++) {
    writes.push(srv.patch('/v2/entities/Turnstile-9/attrs?options=keyValues',
      { count: { $inc: 1 }, seen: { $push: i } }));
  }
  const answers = await Promise.all(writes);
  assert.deepEqual([...new Set(answers.map((r) => r.status))], [204]);
  const got = await srv.get('/v2/entities/Turnstile-9?options=keyValues');
  assert.equal(got.json.count, 200);
  assert.deepEqual([...got.json.seen].sort((a, b) => a - b), [...Array(200).keys()]);
  // Every increment is also a point of history.
  const history = await srv.get('/ql/v2/entities/Turnstile-9/attrs/count?lastN=1000');
  assert.equal(history.status, 200, history.text);
  assert.deepEqual(history.json.values, [0, ...Array.from({ length: 200 }, (_, i) => i + 1)]);
});
