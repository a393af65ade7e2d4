// The case-file format itself: the parser and the JSON matcher, and every case file parses.
// Runs without the server binary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCase, mismatch, substitute } from './casefile.mjs';

const casesDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cases');

test('a step parses into request, headers, body and expectations', () => {
  const steps = parseCase([
    '# comment',
    '@set t = Room',
    '### create',
    'POST /v2/entities?options=keyValues',
    'Content-Type: application/json',
    '',
    '{"id": "R1",',
    ' "type": "${t}"}',
    '--- 201',
    'Location: /v2/entities/R1?type=Room',
    'Fiware-Correlator: *',
    '@capture loc = header Location',
    '~= {"a":',
    '    1}',
    '',
    'ids= A,B',
    'idset=',
    'count= 2',
    'keys= b,a',
    'text= hi',
    'empty',
    '### next',
    'GET ${loc}',
    '--- 200',
  ].join('\n'));
  assert.equal(steps.length, 3);
  assert.deepEqual(steps[0], { kind: 'set', name: 't', value: 'Room', line: 2 });
  const s = steps[1];
  assert.equal(s.method, 'POST');
  assert.equal(s.target, '/v2/entities?options=keyValues');
  assert.deepEqual(s.headers, [['Content-Type', 'application/json']]);
  assert.equal(s.body, '{"id": "R1",\n "type": "${t}"}');
  assert.equal(s.status, 201);
  assert.deepEqual(s.expect.map((e) => e.kind), ['header', 'header', 'capture-header', 'subset', 'ids', 'idset', 'count', 'keys', 'text', 'empty']);
  assert.deepEqual(s.expect[3].value, { a: 1 });
  assert.deepEqual(s.expect[5].value, []);
  assert.deepEqual(s.expect[7].value, ['b', 'a']);
  assert.equal(steps[2].body, undefined);
});

test('malformed case files are rejected with the line', () => {
  assert.throws(() => parseCase('### x\nFETCH /v2\n--- 200'), /expected a request line/);
  assert.throws(() => parseCase('### x\nGET /v2\n'), /expected '--- STATUS'/);
  assert.throws(() => parseCase('### x\nGET /v2\n--- 200\n== {bad'), /bad JSON expectation/);
  assert.throws(() => parseCase('### x\nGET /v2\n--- 200\nwhatever this is'), /unknown expectation/);
});

test('exact and subset JSON matching with matchers', () => {
  assert.equal(mismatch({ a: 1 }, { a: 1 }, false), null);
  assert.match(mismatch({ a: 1 }, { a: 1, b: 2 }, false), /unexpected key "b"/);
  assert.equal(mismatch({ a: 1 }, { a: 1, b: 2 }, true), null);
  assert.match(mismatch({ a: 1 }, { a: 2 }, true), /expected 1, got 2/);
  assert.match(mismatch([1, 2], [1], true), /expected 2 elements/);
  assert.equal(mismatch({ a: '@any', b: '@absent' }, { a: null }, true), null);
  assert.match(mismatch({ a: '@any' }, {}, true), /missing/);
  assert.match(mismatch({ b: '@absent' }, { b: 1 }, true), /should be absent/);
  assert.equal(mismatch({ t: '@datetime', n: '@number', s: '@string' }, { t: '2024-05-01T00:00:00.000Z', n: 1, s: '' }, false), null);
  assert.match(mismatch({ t: '@datetime' }, { t: 'yesterday' }, false), /not a DateTime/);
  assert.match(mismatch({ a: { b: [1, { c: 2 }] } }, { a: { b: [1, { c: 3 }] } }, true), /\$\.a\.b\[1\]\.c/);
});

test('variables substitute, $${x} stays literal, unknown ones fail', () => {
  assert.equal(substitute('/v2/subscriptions/${sid}', { sid: 'abc' }), '/v2/subscriptions/abc');
  assert.equal(substitute('level is $${level}', {}), 'level is ${level}');
  assert.throws(() => substitute('${nope}', {}), /undefined variable nope/);
});

test('every case file parses and has request steps', () => {
  const files = fs.readdirSync(casesDir).filter((f) => f.endsWith('.case'));
  assert.ok(files.length >= 10, `${files.length} case files`);
  let total = 0;
  for (const f of files) {
    const steps = parseCase(fs.readFileSync(path.join(casesDir, f), 'utf8'), f);
    const requests = steps.filter((s) => s.kind === 'request');
    assert.ok(requests.length >= 5, `${f} has ${requests.length} steps`);
    total += requests.length;
  }
  assert.ok(total > 300, `${total} steps in all`);
});
