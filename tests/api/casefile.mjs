// The case-file format of tests/api/cases/*.case: parser and JSON matcher. The format is
// documented at the top of cases.test.mjs, which runs the files.

// ── parsing ───────────────────────────────────────────────────────────────────────────────
const REQUEST_LINE = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+(\S+)\s*$/;
const HEADER_LINE = /^([A-Za-z0-9-]+):\s?(.*)$/;
// A line that starts a new expectation also ends a multi-line JSON expectation.
const EXPECTATION_START = /^(@|###|ids=|idset=|keys=|count=|text=|empty\s*$|==|~=|[A-Za-z0-9-]+:\s)/;

export function parseCase(text, file = '<case>') {
  const lines = text.split('\n');
  const steps = [];
  let i = 0;
  const where = () => `${file}:${i + 1}`;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '' || (line.startsWith('#') && !line.startsWith('###'))) { i++; continue; }
    if (line.startsWith('@set ')) {
      const m = /^@set\s+(\w+)\s*=\s*(.*)$/.exec(line);
      if (!m) throw new Error(`${where()}: bad @set`);
      steps.push({ kind: 'set', name: m[1], value: m[2], line: i + 1 });
      i++; continue;
    }
    if (line.startsWith('@fixture ')) {
      const [, name, ...args] = line.trim().split(/\s+/);
      steps.push({ kind: 'fixture', name, args, line: i + 1 });
      i++; continue;
    }
    if (!line.startsWith('###')) throw new Error(`${where()}: expected '###', got: ${line}`);
    const step = { kind: 'request', title: line.replace(/^###\s*/, ''), line: i + 1, headers: [], expect: [] };
    i++;
    const m = REQUEST_LINE.exec(lines[i] || '');
    if (!m) throw new Error(`${where()}: expected a request line, got: ${lines[i]}`);
    step.method = m[1];
    step.target = m[2];
    i++;
    while (i < lines.length && lines[i].trim() !== '' && !lines[i].startsWith('--- ')) {
      const h = HEADER_LINE.exec(lines[i]);
      if (!h) throw new Error(`${where()}: bad request header: ${lines[i]}`);
      step.headers.push([h[1], h[2]]);
      i++;
    }
    const body = [];
    if (i < lines.length && lines[i].trim() === '') {
      i++;
      while (i < lines.length && !lines[i].startsWith('--- ')) body.push(lines[i++]);
    }
    while (body.length && body[body.length - 1].trim() === '') body.pop();
    step.body = body.length ? body.join('\n') : undefined;
    const s = /^---\s+(\d{3})\s*$/.exec(lines[i] || '');
    if (!s) throw new Error(`${where()}: expected '--- STATUS'`);
    step.status = Number(s[1]);
    i++;
    while (i < lines.length && !lines[i].startsWith('###') && !lines[i].startsWith('@set ') && !lines[i].startsWith('@fixture ')) {
      const l = lines[i];
      if (l.trim() === '' || l.startsWith('#')) { i++; continue; }
      let e;
      if ((e = /^(==|~=)\s?(.*)$/.exec(l))) {
        const json = [e[2]];
        i++;
        while (i < lines.length && lines[i].trim() !== '' && !EXPECTATION_START.test(lines[i])) json.push(lines[i++]);
        const src = json.join('\n');
        let value;
        try { value = JSON.parse(src); } catch (err) { throw new Error(`${file}:${i}: bad JSON expectation: ${err.message}\n${src}`); }
        step.expect.push({ kind: e[1] === '==' ? 'json' : 'subset', value, src });
        continue;
      }
      if ((e = /^text=\s?(.*)$/.exec(l))) step.expect.push({ kind: 'text', value: e[1] });
      else if (l.trim() === 'empty') step.expect.push({ kind: 'empty' });
      else if ((e = /^(ids|idset)=\s*(.*)$/.exec(l))) step.expect.push({ kind: e[1], value: e[2].trim() === '' ? [] : e[2].split(',').map((x) => x.trim()) });
      else if ((e = /^count=\s*(\d+)$/.exec(l))) step.expect.push({ kind: 'count', value: Number(e[1]) });
      else if ((e = /^keys=\s*(.*)$/.exec(l))) step.expect.push({ kind: 'keys', value: e[1].trim() === '' ? [] : e[1].split(',').map((x) => x.trim()) });
      else if ((e = /^@capture\s+(\w+)\s*=\s*header\s+([A-Za-z0-9-]+)(?:\s+\/(.*)\/)?\s*$/.exec(l))) step.expect.push({ kind: 'capture-header', name: e[1], header: e[2], re: e[3] });
      else if ((e = /^@capture\s+(\w+)\s*=\s*json\s+(\S+)\s*$/.exec(l))) step.expect.push({ kind: 'capture-json', name: e[1], path: e[2] });
      else if ((e = HEADER_LINE.exec(l))) step.expect.push({ kind: 'header', name: e[1], value: e[2] });
      else throw new Error(`${file}:${i + 1}: unknown expectation: ${l}`);
      i++;
    }
    steps.push(step);
  }
  return steps;
}

// ── matching ──────────────────────────────────────────────────────────────────────────────
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;

function matcher(expected, actual, present) {
  switch (expected) {
    case '@any': return present ? null : 'missing';
    case '@absent': return present ? `should be absent, is ${JSON.stringify(actual)}` : null;
    case '@string': return typeof actual === 'string' ? null : `not a string: ${JSON.stringify(actual)}`;
    case '@number': return typeof actual === 'number' ? null : `not a number: ${JSON.stringify(actual)}`;
    case '@datetime': return typeof actual === 'string' && DATETIME.test(actual) ? null : `not a DateTime: ${JSON.stringify(actual)}`;
    case '@array': return Array.isArray(actual) ? null : `not an array: ${JSON.stringify(actual)}`;
    case '@object': return actual && typeof actual === 'object' && !Array.isArray(actual) ? null : `not an object: ${JSON.stringify(actual)}`;
    default: return undefined;
  }
}

/** Returns null when `actual` matches `expected`, else a description of the first mismatch. */
export function mismatch(expected, actual, subset, at = '$', present = true) {
  if (typeof expected === 'string' && expected.startsWith('@')) {
    const r = matcher(expected, actual, present);
    if (r !== undefined) return r && `${at}: ${r}`;
  }
  if (!present) return `${at}: missing`;
  if (expected === null || typeof expected !== 'object') {
    return Object.is(expected, actual) || expected === actual ? null : `${at}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${at}: expected an array, got ${JSON.stringify(actual)}`;
    if (expected.length !== actual.length) return `${at}: expected ${expected.length} elements, got ${actual.length}: ${JSON.stringify(actual)}`;
    for (let k = 0; k < expected.length; k++) {
      const r = mismatch(expected[k], actual[k], subset, `${at}[${k}]`);
      if (r) return r;
    }
    return null;
  }
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return `${at}: expected an object, got ${JSON.stringify(actual)}`;
  for (const [k, v] of Object.entries(expected)) {
    const r = mismatch(v, actual[k], subset, `${at}.${k}`, Object.prototype.hasOwnProperty.call(actual, k));
    if (r) return r;
  }
  if (!subset) {
    for (const k of Object.keys(actual)) {
      if (!Object.prototype.hasOwnProperty.call(expected, k)) return `${at}: unexpected key ${JSON.stringify(k)}`;
    }
  }
  return null;
}


export function substitute(text, vars) {
  return text?.replace(/\$(\$?)\{(\w+)\}/g, (all, escaped, name) => {
    if (escaped) return `\${${name}}`;
    if (!(name in vars)) throw new Error(`undefined variable ${name}`);
    return vars[name];
  });
}

export function dig(value, dotted) {
  return dotted.split('.').reduce((v, k) => (v == null ? undefined : v[k]), value);
}
