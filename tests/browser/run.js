// Browser tests of the web console ("/") and the public page ("/public"): start the real
// jialingd ($JIALINGD, default bin/jialingd) on 127.0.0.1 with a free port and a temporary data
// directory, write known readings over HTTP, and drive Debian's chromium headless through
// playwright-core. Prints "ok NAME" / "FAIL NAME: why" per test and ends with
// "browser: N passed, N failed" (counted by tests/run.sh). Screenshots go to
// tests/browser/screenshots/ (CI artifacts).
//
// Usage: node tests/browser/run.js            the tests
//        node tests/browser/run.js --docs     screenshots of both pages on the demo data set,
//                                             written to docs/img/console.png and public.png
"use strict";

const { chromium } = require("playwright-core");
const { spawn } = require("child_process");
const fs = require("fs");
const http = require("http");
const net = require("net");
const os = require("os");
const path = require("path");

const ROOT = path.resolve(__dirname, "..", "..");
const JIALINGD = path.resolve(ROOT, process.env.JIALINGD || "bin/jialingd");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = path.join(__dirname, "screenshots");
const STEP_TIMEOUT_MS = 20000;

// The readings written, computed here: the test's reference for every expected value.
const T0 = Date.UTC(2025, 0, 1, 0, 0, 0); // 2025-01-01T00:00:00Z
const STEP_MS = 60000;
const COUNT = 300;
function valueAt(station, i) {
  // Exact one-decimal values, written and compared as text.
  const tenths = station === "st-01" ? 200 + (i * 7) % 150 : 300 + (i * 11) % 90;
  return (tenths / 10).toFixed(1);
}
const STATIONS = ["st-01", "st-02"];
const NH3N = ["0.512", "0.498", "0.733"]; // sec-01 at T0, T0+1h, T0+2h

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

function request(port, method, urlPath, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path: urlPath, headers: headers || {} }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.setTimeout(30000, () => req.destroy(new Error("request timed out")));
    if (body) req.write(body);
    req.end();
  });
}

async function startServer(extraArgs) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "jialing-browser-"));
  const port = await freePort();
  const child = spawn(JIALINGD, ["--data", dir, "--listen", "127.0.0.1:" + port, "--sync=none"].concat(extraArgs || []),
    { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (d) => { log += d; });
  child.stderr.on("data", (d) => { log += d; });
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error("jialingd exited: " + log);
    try {
      const r = await request(port, "GET", "/health");
      if (r.status === 200) break;
    } catch (e) { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port, base: "http://127.0.0.1:" + port, log: () => log,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function writeKnownReadings(server) {
  const lines = [];
  for (const station of STATIONS)
    for (let i = 0; i < COUNT; i++)
      lines.push("pm25,district=testdistrict,station=" + station + " value=" + valueAt(station, i) + " " + (T0 + i * STEP_MS));
  NH3N.forEach((v, i) => lines.push("nh3n,district=testdistrict,section=sec-01 value=" + v + " " + (T0 + i * 3600000)));
  const r = await request(server.port, "POST", "/api/v1/write?precision=ms", lines.join("\n") + "\n");
  if (r.status !== 204) throw new Error("write answered " + r.status + ": " + r.body);
}

const WINDOW_MS = { s: 1e3, m: 6e4, h: 36e5, d: 864e5 };
function windowMs(text) {
  const m = /^(\d+)(s|m|h|d)$/.exec(text);
  return m ? +m[1] * WINDOW_MS[m[2]] : Infinity;
}
function expectedInRange(from, to) {
  let n = 0;
  for (let i = 0; i < COUNT; i++) if (T0 + i * STEP_MS >= from && T0 + i * STEP_MS < to) n++;
  return n;
}

let passed = 0, failed = 0;
async function test(name, fn) {
  try {
    await fn();
    passed++;
    console.log("ok " + name);
  } catch (e) {
    failed++;
    console.log("FAIL " + name + ": " + (e && e.stack ? e.stack.split("\n").slice(0, 4).join(" | ") : e));
  }
}
function eq(actual, expected, what) {
  if (JSON.stringify(actual) !== JSON.stringify(expected))
    throw new Error(what + ": got " + JSON.stringify(actual) + ", expected " + JSON.stringify(expected));
}
function check(cond, what) {
  if (!cond) throw new Error(what);
}

async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"],
  });
}

// Waits until the console finished a query after `after` queries.
async function queried(page, after) {
  await page.waitForFunction((n) => window.jialing && window.jialing.ready && window.jialing.queryCount > n,
    after, { timeout: STEP_TIMEOUT_MS });
  return page.evaluate(() => JSON.parse(JSON.stringify(window.jialing)));
}

async function runTests() {
  fs.mkdirSync(SHOTS, { recursive: true });
  const server = await startServer();
  const browser = await launch();
  try {
    await writeKnownReadings(server);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    const external = [];
    page.on("request", (r) => { if (!r.url().startsWith(server.base) && !r.url().startsWith("blob:")) external.push(r.url()); });

    let state = null;
    await test("console.loads_and_lists_metrics", async () => {
      await page.goto(server.base + "/");
      state = await queried(page, 0);
      const metrics = await page.$$eval("#metric option", (os) => os.map((o) => o.value));
      eq(metrics.slice().sort(), ["nh3n", "pm25"], "metrics offered");
      eq(await page.inputValue("#metric"), "pm25", "metric picked first");
    });

    await test("console.chart_shows_every_reading_of_a_station", async () => {
      const before = state.queryCount;
      await page.selectOption("#tag-station", "st-01");
      state = await queried(page, before);
      // All of st-01: 300 readings over 299 minutes; the auto window (30s here) is below the
      // 1-minute cadence, so each reading is one point.
      eq(state.points, [COUNT], "points per series on the chart");
      check(windowMs(state.window) <= STEP_MS, "window " + state.window + " should not exceed the cadence");
      const drawn = await page.evaluate(() => document.querySelectorAll("#chart canvas").length);
      check(drawn >= 1, "a chart canvas is drawn");
      await page.screenshot({ path: path.join(SHOTS, "console-station.png") });
    });

    await test("console.zoom_requeries_with_a_finer_window", async () => {
      const before = state.queryCount, coarse = state.window;
      const box = await page.locator("#chart .u-over").boundingBox();
      // Drag across the middle fifth of the plot, as a user zooms in.
      const y = box.y + box.height / 2;
      await page.mouse.move(box.x + box.width * 0.4, y);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.5, y, { steps: 5 });
      await page.mouse.move(box.x + box.width * 0.6, y, { steps: 5 });
      await page.mouse.up();
      state = await queried(page, before);
      const span = state.view.to - state.view.from;
      check(span < (COUNT * STEP_MS) * 0.3, "the view narrowed to about a fifth (span " + span + " ms)");
      check(windowMs(state.window) < windowMs(coarse), "window " + state.window + " is finer than " + coarse);
      eq(state.points, [expectedInRange(state.view.from, state.view.to)], "points in the zoomed range");
      await page.screenshot({ path: path.join(SHOTS, "console-zoomed.png") });
    });

    await test("console.csv_download_equals_the_api", async () => {
      const [download] = await Promise.all([page.waitForEvent("download", { timeout: STEP_TIMEOUT_MS }), page.click("#csv")]);
      const file = await download.path();
      const csv = fs.readFileSync(file, "utf8");
      const api = await request(server.port, "GET", state.csvUrls[0]);
      eq(api.status, 200, "API CSV status");
      eq(csv, api.body, "downloaded CSV");
      // Independently: a header and one row per reading in the range, with the values written.
      const rows = csv.trim().split(/\r?\n/);
      eq(rows.length, 1 + expectedInRange(state.view.from, state.view.to), "CSV lines");
      const first = rows[1].split(",");
      const t = Number(first[2]);
      const i = (t - T0) / STEP_MS;
      check(Number.isInteger(i), "row time " + t + " is a reading's time");
      eq(Number(first[3]), Number(valueAt("st-01", i)), "mean of the first window (one reading)");
    });

    await test("console.several_series_and_table", async () => {
      const before = state.queryCount;
      await page.click("#add"); // pin st-01
      state = await queried(page, before);
      const again = state.queryCount;
      await page.selectOption("#tag-station", "st-02");
      state = await queried(page, again);
      eq(state.points.length, 2, "lines on the chart (st-01 pinned, st-02 picked)");
      eq(state.points[0], state.points[1], "both stations have a reading each minute");
      await page.click("#show-table");
      const headers = await page.$$eval("#table th", (ths) => ths.map((t) => t.textContent));
      eq(headers.length, 3, "table columns: time and two series");
      const rowCount = await page.$$eval("#table tbody tr", (trs) => trs.length);
      eq(rowCount, state.points[0], "table rows");
    });

    await test("console.latest_table", async () => {
      await page.fill("#latest-selector", "pm25");
      await page.dispatchEvent("#latest-selector", "change");
      await page.waitForFunction(() => document.querySelectorAll("#latest tbody tr").length === 2, null, { timeout: STEP_TIMEOUT_MS });
      const cells = await page.$$eval("#latest tbody tr", (trs) => trs.map((tr) => tr.cells[2].textContent));
      eq(cells.sort(), [valueAt("st-01", COUNT - 1), valueAt("st-02", COUNT - 1)].map(Number).map(String).sort(), "latest values");
      await page.waitForFunction(() => document.getElementById("st-series").textContent === "3", null, { timeout: STEP_TIMEOUT_MS });
      await page.screenshot({ path: path.join(SHOTS, "console.png"), fullPage: true });
    });

    const pub = await context.newPage();
    pub.on("pageerror", (e) => pageErrors.push(String(e)));
    pub.on("request", (r) => { if (!r.url().startsWith(server.base)) external.push(r.url()); });
    await test("public.latest_pm25_of_a_site", async () => {
      await pub.goto(server.base + "/public");
      await pub.waitForFunction(() => window.jialingPublic && window.jialingPublic.ready, null, { timeout: STEP_TIMEOUT_MS });
      const v = await pub.textContent('article[data-site="st-01"] tr[data-metric="pm25"] .value');
      eq(v, String(Number(valueAt("st-01", COUNT - 1))), "latest PM2.5 of st-01");
      const nh3n = await pub.textContent('#water article[data-site="sec-01"] tr[data-metric="nh3n"] .value');
      eq(nh3n, String(Number(NH3N[NH3N.length - 1])), "latest NH3-N of sec-01");
      eq(await pub.$$eval("#air article", (as) => as.map((a) => a.dataset.site)), ["st-01", "st-02"], "air sites");
      check((await pub.textContent("h1")) === "环境质量实时公开", "Chinese title by default");
      check(await pub.isVisible('article[data-site="st-01"] [data-index="aqi"]'), "a place for the AQI");
      await pub.screenshot({ path: path.join(SHOTS, "public-zh.png"), fullPage: true });
    });

    await test("public.switches_language", async () => {
      await pub.click("#lang");
      eq(await pub.textContent("h1"), "Environmental quality, live", "English title");
      eq(await pub.evaluate(() => document.documentElement.lang), "en", "html lang");
      const label = await pub.textContent('#water article[data-site="sec-01"] tr[data-metric="nh3n"] td');
      eq(label, "Ammonia N (NH₃-N)", "metric label in English");
      await pub.screenshot({ path: path.join(SHOTS, "public-en.png"), fullPage: true });
      await pub.click("#lang");
      eq(await pub.textContent("h1"), "环境质量实时公开", "back to Chinese");
    });

    await test("public.readable_on_a_phone", async () => {
      const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true });
      const p = await phone.newPage();
      await p.goto(server.base + "/public");
      await p.waitForFunction(() => window.jialingPublic && window.jialingPublic.ready, null, { timeout: STEP_TIMEOUT_MS });
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 0, "no sideways scrolling on a 390 px screen (" + overflow + " px too wide)");
      await p.screenshot({ path: path.join(SHOTS, "public-phone.png"), fullPage: true });
      await phone.close();
    });

    await test("pages.no_script_errors_and_nothing_fetched_elsewhere", async () => {
      eq(pageErrors, [], "script errors");
      eq(external, [], "requests to other hosts");
    });
  } finally {
    await browser.close();
    await server.stop();
  }
}

// The README's screenshots, on the demo data set.
async function docsScreenshots() {
  const server = await startServer(["--demo"]);
  const browser = await launch();
  try {
    const out = path.join(ROOT, "docs", "img");
    fs.mkdirSync(out, { recursive: true });
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    await page.goto(server.base + "/");
    let s = await queried(page, 0);
    await page.selectOption("#tag-district", "jiulongpo");
    s = await queried(page, s.queryCount);
    await page.check('#aggs input[value="max"]');
    s = await queried(page, s.queryCount);
    await page.waitForFunction(() => document.querySelectorAll("#latest tbody tr").length > 0, null, { timeout: STEP_TIMEOUT_MS });
    await page.waitForTimeout(300); // let the status line's numbers settle
    await page.screenshot({ path: path.join(out, "console.png") });
    const pub = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await pub.goto(server.base + "/public");
    await pub.waitForFunction(() => window.jialingPublic && window.jialingPublic.ready, null, { timeout: STEP_TIMEOUT_MS });
    await pub.screenshot({ path: path.join(out, "public.png"), fullPage: true });
    console.log("wrote " + path.join(out, "console.png") + " and public.png");
  } finally {
    await browser.close();
    await server.stop();
  }
}

(async () => {
  const docs = process.argv.includes("--docs");
  try {
    if (docs) await docsScreenshots();
    else await runTests();
  } catch (e) {
    failed++;
    console.log("FAIL browser.setup: " + (e && e.stack ? e.stack : e));
  }
  if (!docs) console.log("browser: " + passed + " passed, " + failed + " failed");
  process.exit(failed ? 1 : 0);
})();
