// Runs the API case files in tests/api/cases/*.case, one fresh server per file, each file one
// test whose steps run in order (as Orion's functional .test files or sqllogictest files do).
//
// ── The case format ───────────────────────────────────────────────────────────────────────────
// A file is a sequence of steps. Lines starting with `#` outside a body are comments.
//
//   ### what this step checks                  starts a step (the title is reported on failure)
//   POST /v2/entities?options=keyValues        request line: METHOD TARGET (after ${var} substitution)
//   Content-Type: application/json             request headers, one per line, until a blank line
//   Fiware-Service: gaoming
//                                              blank line, then the request body (raw text, may
//   {"id": "Room1", "type": "Room"}            span lines) until the expectation line:
//   --- 201                                    expected status
//   Location: /v2/entities/Room1?type=Room     header equals (case-insensitive name)
//   Fiware-Correlator: *                       header present      `Name: !`  header absent
//   Content-Type: ~application/json            header contains the text after `~`
//   == {"id": "Room1"}                         body is exactly this JSON (deep equality)
//   ~= {"id": "Room1"}                         body contains this JSON (subset, see below)
//   text= 21.5                                 body text equals (trimmed)
//   empty                                      body is empty
//   ids= AQ-1,AQ-2                             body is an array whose `id`s are these, in order
//   idset= AQ-2,AQ-1                           … these, in any order (`ids=` alone: empty array)
//   count= 3                                   body is an array of this length
//   keys= name,open,location                   body is an object with these keys, in this order
//   @capture loc = header Location             store a header value in variable `loc`
//   @capture sid = header Location /\/v2\/subscriptions\/(.+)$/   … the first regex group
//   @capture n = json 0.temperature.value      … a value from the JSON body (dot path)
//
// A JSON expectation (`==`, `~=`) continues on the following lines up to the next blank line
// or expectation line, so long bodies can be laid out. Subset (`~=`) means: objects must have at least the listed
// keys, each matching recursively; arrays must have the same length, element by element.
// Inside expected JSON these strings are matchers: "@any" (present, any value), "@absent" (key
// must not exist), "@string", "@number", "@datetime" (ISO 8601 with time), "@array", "@object".
//
// Headers and the body may use ${name} for captured variables or ones set with
//   @set name = value
// and `$${name}` stands for a literal `${name}` (Orion's notification macros).
// A request without a Content-Type header is sent without one, and a request body is sent
// exactly as written (with Content-Length). Built-in variable: ${big_entity}, a valid entity
// JSON of just over 1 MiB (for 413). Steps may also call a named fixture, which runs
// requests written in JS (data read from ../shared at run time):
//   @fixture beijing-aq 12                     12 AirQualityObserved entities AQ-0… (harness.mjs)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, beijingAirQuality } from './harness.mjs';
import { parseCase, mismatch, substitute, dig } from './casefile.mjs';

const casesDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cases');

// Built-in variables: `big_entity` is a valid entity JSON of just over 1 MiB (for 413).
const builtinVars = {
  big_entity: JSON.stringify({ id: 'Big', type: 'Blob', data: { type: 'Text', value: 'x'.repeat(1024 * 1024 + 16) } }),
};

// ── running ───────────────────────────────────────────────────────────────────────────────
const fixtures = {
  async 'beijing-aq'(server, [n = '12']) {
    const entities = beijingAirQuality(Number(n));
    const res = await server.request('POST', '/v2/op/update', { body: { actionType: 'append', entities } });
    assert.equal(res.status, 204, `fixture beijing-aq: op/update answered ${res.status} ${res.text}`);
  },
};


/** Percent-encodes what may not appear raw in a request line (non-ASCII, spaces). */
function encodeTarget(target) {
  return target.replace(/[^\x21-\x7e]+/gu, (run) => encodeURIComponent(run));
}

function checkStep(step, res, vars) {
  const problems = [];
  if (res.status !== step.status) problems.push(`status: expected ${step.status}, got ${res.status}`);
  for (const e of step.expect) {
    const value = typeof e.value === 'string' ? substitute(e.value, vars) : e.value;
    switch (e.kind) {
      case 'header': {
        const actual = res.headers.get(e.name);
        const want = substitute(e.value, vars);
        if (want === '*') { if (actual === null) problems.push(`header ${e.name}: missing`); }
        else if (want === '!') { if (actual !== null) problems.push(`header ${e.name}: should be absent, is ${actual}`); }
        else if (want.startsWith('~')) { if (actual === null || !actual.includes(want.slice(1))) problems.push(`header ${e.name}: expected to contain ${want.slice(1)}, got ${actual}`); }
        else if (actual !== want) problems.push(`header ${e.name}: expected ${want}, got ${actual}`);
        break;
      }
      case 'json':
      case 'subset': {
        const expected = JSON.parse(substitute(e.src, vars));
        if (res.json === undefined) problems.push(`body is not JSON: ${res.text.slice(0, 300)}`);
        else {
          const r = mismatch(expected, res.json, e.kind === 'subset');
          if (r) problems.push(`body ${e.kind === 'json' ? '==' : '~='} ${r}`);
        }
        break;
      }
      case 'text': if (res.text.trim() !== value.trim()) problems.push(`text: expected ${JSON.stringify(value)}, got ${JSON.stringify(res.text)}`); break;
      case 'empty': if (res.text !== '') problems.push(`body should be empty, got ${JSON.stringify(res.text.slice(0, 300))}`); break;
      case 'count':
        if (!Array.isArray(res.json) || res.json.length !== e.value) problems.push(`count: expected an array of ${e.value}, got ${res.text.slice(0, 300)}`);
        break;
      case 'keys': {
        const got = res.json && typeof res.json === 'object' && !Array.isArray(res.json) ? Object.keys(res.json) : null;
        if (!got) problems.push(`keys: body is not an object: ${res.text.slice(0, 300)}`);
        else if (JSON.stringify(got) !== JSON.stringify(e.value)) problems.push(`keys: expected ${e.value.join(',')}, got ${got.join(',')}`);
        break;
      }
      case 'ids':
      case 'idset': {
        if (!Array.isArray(res.json)) { problems.push(`${e.kind}: body is not an array: ${res.text.slice(0, 300)}`); break; }
        let got = res.json.map((x) => x?.id);
        let want = e.value.map((x) => substitute(x, vars));
        if (e.kind === 'idset') { got = [...got].sort(); want = [...want].sort(); }
        if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${e.kind}: expected ${want.join(',')}, got ${got.join(',')}`);
        break;
      }
      case 'capture-header': {
        const h = res.headers.get(e.header);
        if (h === null) { problems.push(`capture ${e.name}: header ${e.header} missing`); break; }
        if (e.re) {
          const m = new RegExp(e.re).exec(h);
          if (!m) problems.push(`capture ${e.name}: ${h} does not match /${e.re}/`);
          else vars[e.name] = m[1] ?? m[0];
        } else vars[e.name] = h;
        break;
      }
      case 'capture-json': {
        const v = dig(res.json, e.path);
        if (v === undefined) problems.push(`capture ${e.name}: no ${e.path} in ${res.text.slice(0, 300)}`);
        else vars[e.name] = typeof v === 'string' ? v : JSON.stringify(v);
        break;
      }
      default: throw new Error(`unknown expectation ${e.kind}`);
    }
  }
  return problems;
}

async function runCase(file, t) {
  const steps = parseCase(fs.readFileSync(file, 'utf8'), path.basename(file));
  const server = await startServer();
  const vars = { ...builtinVars };
  const failures = [];
  try {
    for (const step of steps) {
      if (step.kind === 'set') { vars[step.name] = substitute(step.value, vars); continue; }
      if (step.kind === 'fixture') { await fixtures[step.name](server, step.args); continue; }
      const headers = {};
      for (const [k, v] of step.headers) headers[k] = substitute(v, vars);
      const body = step.body === undefined ? undefined : substitute(step.body, vars);
      if (body !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-length')) {
        headers['Content-Length'] = String(Buffer.byteLength(body));
      }
      let res;
      try {
        res = await server.rawRequest(step.method, encodeTarget(substitute(step.target, vars)), { headers, body });
      } catch (err) {
        failures.push(`line ${step.line} "${step.title}": request failed: ${err.message}`);
        continue;
      }
      const problems = checkStep(step, res, vars);
      if (problems.length) {
        failures.push(`line ${step.line} "${step.title}": ${step.method} ${substitute(step.target, vars)}\n    ${problems.join('\n    ')}${res.status !== step.status ? `\n    response: ${res.status} ${res.text.slice(0, 400)}` : ''}`);
      }
    }
  } finally {
    try {
      const { code, signal } = await server.stop();
      if (code !== 0) failures.push(`server exited with code ${code} signal ${signal} on SIGTERM; stderr tail:\n${server.stderr.slice(-1500)}`);
    } catch (err) {
      failures.push(err.message);
    }
    await server.close();
  }
  if (failures.length) {
    assert.fail(`${failures.length} of ${steps.filter((s) => s.kind === 'request').length} steps failed in ${path.basename(file)}:\n  ${failures.join('\n  ')}`);
  }
}

const files = fs.readdirSync(casesDir).filter((f) => f.endsWith('.case')).sort();
for (const f of files) {
  test(`case ${f}`, (t) => runCase(path.join(casesDir, f), t));
}
