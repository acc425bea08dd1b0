// Real InfluxDB clients from npm against jialingd ($JIALINGD, default bin/jialingd), each on a
// server of its own (127.0.0.1, a free port, a temporary data directory): the official v2 client
// writes 10,000 points (it gzips bodies over 1 kB) which are then read back exactly through
// /api/v1/query; node-influx's ping(), writePoints() and query(), the query's answer compared with
// a mean computed here. Prints "ok NAME"/"FAIL NAME" lines and "clients: N passed, N failed".
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { InfluxDB, Point } = require('@influxdata/influxdb-client');
const Influx = require('influx');

const T0 = 1735689600000;
const binary = path.resolve(process.env.JIALINGD || path.join(__dirname, '..', '..', 'bin', 'jialingd'));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
    srv.on('error', reject);
  });
}

async function startServer() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jialing-clients-'));
  const port = await freePort();
  const proc = spawn(binary, ['--data', dir, '--listen', `127.0.0.1:${port}`, '--sync=none'],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 500; i++) {
    try { if ((await fetch(url + '/health')).status === 200) return { proc, dir, url, port }; } catch (e) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 20));
  }
  proc.kill('SIGKILL');
  throw new Error('jialingd did not start');
}

async function stopServer(s) {
  await new Promise((resolve) => { s.proc.on('exit', resolve); s.proc.kill('SIGTERM'); });
  fs.rmSync(s.dir, { recursive: true, force: true });
}

function assertEq(actual, expected, what) {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: got ${a.slice(0, 300)}, expected ${e.slice(0, 300)}`);
}

async function apiQuery(s, params) {
  const res = await fetch(s.url + '/api/v1/query?' + new URLSearchParams(params));
  if (res.status !== 200) throw new Error(`/api/v1/query: ${res.status} ${await res.text()}`);
  return res.json();
}

async function testV2Client10k() {
  const s = await startServer();
  try {
    // Why batches used to go missing: when the client's buffer reaches batchSize, writePoint()
    // starts sending that batch itself and drops the promise; a flush() that follows finds the
    // buffer empty and resolves at once, and close() does not wait for the batch either (the
    // client gzips it asynchronously before the request even starts). The test then read back
    // nothing, stopped the server, and the client's retry timer later hit a closed port.
    // So the buffer never fills here (batchSize above the total): every batch is sent by an
    // awaited flush(), which resolves only once the server has answered, and with maxRetries 0
    // a failed write rejects that flush() instead of waiting for a retry timer.
    const failures = [];
    const api = new InfluxDB({ url: s.url, token: 'unused' }).getWriteApi('my-org', 'my-bucket', 'ms', {
      batchSize: 20000,
      flushInterval: 0,
      maxRetries: 0,
      gzipThreshold: 1000, // the client's default, stated: every batch here is gzipped
      writeFailed: (error) => { failures.push(String(error)); },
    });
    // Count the bodies the client gzips (it calls zlib.gzip for each body over gzipThreshold).
    const gzip = zlib.gzip;
    let gzipped = 0;
    zlib.gzip = (...args) => { gzipped++; return gzip(...args); };
    const expected = [];
    for (let i = 0; i < 10000; i++) {
      const v = (i % 1000) / 10;
      expected.push([T0 + i * 1000, v]);
      api.writePoint(new Point('v2pm25').tag('station', 's1').floatField('value', v).timestamp(T0 + i * 1000));
      if ((i + 1) % 2500 === 0) await api.flush(); // four gzipped batches of 2,500 points
    }
    await api.close();
    zlib.gzip = gzip;
    assertEq(failures, [], 'no write failed');
    assertEq(gzipped, 4, 'bodies sent gzipped');
    const doc = await apiQuery(s, { series: 'v2pm25{station="s1"}', from: T0, to: T0 + 10000 * 1000 });
    assertEq(doc.series.length, 1, 'one series');
    assertEq(doc.series[0].values.length, 10000, 'readings stored');
    assertEq(doc.series[0].values, expected, 'every reading exact');
  } finally {
    await stopServer(s);
  }
}

async function testNodeInflux() {
  const s = await startServer();
  try {
    const influx = new Influx.InfluxDB({ host: '127.0.0.1', port: s.port, database: 'anydb' });
    const hosts = await influx.ping(5000);
    assertEq(hosts.length, 1, 'ping answers');
    if (!hosts[0].online || !String(hosts[0].version).startsWith('1.')) {
      throw new Error('ping: ' + JSON.stringify({ online: hosts[0].online, version: hosts[0].version }));
    }
    const points = [];
    const values = { a: [], b: [] };
    for (let i = 0; i < 120; i++) {
      for (const station of ['a', 'b']) {
        const v = (station === 'a' ? 10 : 30) + (i % 5);
        values[station].push(v);
        points.push({ measurement: 'nh3n', tags: { station }, fields: { value: v }, timestamp: new Date(T0 + i * 60000) });
      }
    }
    await influx.writePoints(points, { precision: 'ms' });
    const rows = await influx.query(
      `SELECT mean("value"), count("value") FROM "nh3n" WHERE time >= ${T0}ms and time < ${T0 + 120 * 60000}ms GROUP BY "station"`);
    const got = rows.map((r) => [r.station, r.mean, r.count]).sort();
    const mean = (xs) => xs.reduce((x, y) => x + y, 0) / xs.length;
    assertEq(got, [['a', mean(values.a), 120], ['b', mean(values.b), 120]], 'query() grouped means');
    const raw = await influx.query(`SELECT "value" FROM "nh3n" WHERE "station" = 'b' AND time >= ${T0}ms ORDER BY time DESC LIMIT 2`);
    assertEq(raw.map((r) => [r.time.getTime(), r.value]),
      [[T0 + 119 * 60000, values.b[119]], [T0 + 118 * 60000, values.b[118]]], 'raw query DESC LIMIT');
    const names = await influx.getMeasurements();
    assertEq(names, ['nh3n'], 'getMeasurements()');
  } finally {
    await stopServer(s);
  }
}

(async () => {
  let passed = 0, failed = 0;
  const tests = [['v2_client_gzip_10k', testV2Client10k], ['node_influx', testNodeInflux]];
  for (const [name, fn] of tests) {
    try { await fn(); console.log('ok ' + name); passed++; } catch (e) { console.log(`FAIL ${name}: ${e.stack || e}`); failed++; }
  }
  console.log(`clients: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
