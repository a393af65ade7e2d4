// The open-file limit: every connection holds a file descriptor, and Debian's default soft
// limit (1024) is far below [http] max_connections. The server raises its soft limit at
// start; when the hard limit is too low, it accepts fewer connections and closes the others
// at once rather than leaving them in the kernel's backlog. The limits are set with
// prlimit(1) on the server process alone. All connections come from 127.0.0.1, so the
// per-address limit is off ([http] max_connections_per_address = 0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import { startServer, eventually, deadline } from './harness.mjs';

/** This process's hard limit on open files (the server's can only be lower). */
function hardLimit() {
  const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  const hard = line.trim().split(/\s+/)[4];
  return hard === 'unlimited' ? Infinity : Number(hard);
}

/**
 * Opens `n` connections at once, sends GET /healthz on each and reports how many were
 * answered and how many were closed without an answer. Leaves the answered ones open.
 */
async function openMany(srv, n) {
  const sockets = [];
  const outcomes = await Promise.all(Array.from({ length: n }, async () => {
    const sock = net.connect(srv.port, srv.host);
    sockets.push(sock);
    sock.on('error', () => {});
    let data = '';
    sock.setEncoding('utf8');
    const answered = new Promise((resolve) => {
      sock.on('data', (d) => { data += d; if (data.includes('\r\n\r\n')) resolve('answered'); });
      sock.on('close', () => resolve(data.startsWith('HTTP/1.1 200') ? 'answered' : 'closed'));
    });
    await once(sock, 'connect').catch(() => {});
    sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    return answered;
  }));
  return {
    answered: outcomes.filter((o) => o === 'answered').length,
    closed: outcomes.filter((o) => o === 'closed').length,
    close: () => sockets.forEach((s) => s.destroy()),
  };
}

test('with a soft limit of 1024 the server raises it and serves 1500 connections at once', async (t) => {
  if (hardLimit() < 2500) return t.skip(`the hard limit on open files is ${hardLimit()}`);
  // Idle connections stay open for the whole test, so no descriptor is freed on the way.
  const srv = await startServer({ prefix: ['prlimit', '--nofile=1024:', '--'], config: '[http]\nidle_timeout_seconds = 600\naccess_log = false\nmax_connections_per_address = 0\n' });
  try {
    assert.match(srv.stderr, /open-file limit raised from 1024 to \d+/);
    const many = await deadline(openMany(srv, 1500), 60_000, 'connections beyond the limit were left waiting');
    many.close();
    assert.equal(many.answered, 1500, `${many.closed} closed without an answer`);
    assert.doesNotMatch(srv.stderr, /accepting connections failed/);
  } finally {
    await srv.close();
  }
});

test('with a hard limit of 600 the server accepts fewer connections, closes the others at once and says so', async () => {
  const srv = await startServer({ prefix: ['prlimit', '--nofile=600:600', '--'], config: '[http]\nidle_timeout_seconds = 600\naccess_log = false\nmax_connections_per_address = 0\n' });
  try {
    // 600 - 256 (reserve) = 344 descriptors; three quarters go to connections.
    assert.match(srv.stderr, /open-file limit is 600 \(hard limit 600\).*accepting at most 258 connections/);
    const many = await deadline(openMany(srv, 300), 60_000, 'connections beyond the limit were left waiting');
    many.close();
    assert.equal(many.answered, 258);
    assert.equal(many.closed, 42);
    const refused = await eventually(async () => {
      const metrics = await srv.get('/metrics').catch(() => null);
      return metrics?.status === 200 && /zhicheng_http_connections_refused_total (\d+)/.exec(metrics.text)?.[1];
    }, 10_000, 'the metrics once the connections are closed');
    assert.ok(Number(refused) >= 42, `refused ${refused}`);
    const lines = srv.stderr.split('\n').filter((l) => l.includes('accepting connections failed'));
    assert.equal(lines.length, 1, `one line for the run of refusals, not one each:\n${lines.join('\n')}`);
    assert.match(lines[0], /258 connections are open \(\[http\] max_connections\): closed/);
  } finally {
    await srv.close();
  }
});
