// Browser end-to-end tests of the web page: the built site (dist/) served from a sub-path, in
// Debian's headless Chromium driven by playwright-core. Run by `cargo xtask e2e` (and
// `cargo xtask test`), which builds the site and the images and passes their paths:
//   PREFLIGHT_DIST, PREFLIGHT_SCREENSHOTS, PREFLIGHT_IMAGE_CLEAN, PREFLIGHT_IMAGE_VIOLATING,
//   PREFLIGHT_IMAGE_LARGE (a 3 GiB sparse raw disk: reads past 2 GiB), PREFLIGHT_IMAGE_VMDK
//   (streamOptimized), PREFLIGHT_IMAGE_OCI / _OCI_GZ (.oci tar and tar.gz), PREFLIGHT_IMAGE_OVA,
//   PREFLIGHT_IMAGE_LVM_XFS / _BTRFS (Oracle Linux and Fedora layouts), PREFLIGHT_CLI (the
//   `preflight` binary, whose JSON the page's report is compared with).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { basename, join } from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './server.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the browser tests with \`cargo xtask e2e\``);
  return v;
};
const DIST = env('PREFLIGHT_DIST');
const SHOTS = env('PREFLIGHT_SCREENSHOTS');
const IMAGES = {
  clean: env('PREFLIGHT_IMAGE_CLEAN'),
  violating: env('PREFLIGHT_IMAGE_VIOLATING'),
  large: env('PREFLIGHT_IMAGE_LARGE'),
  vmdk: env('PREFLIGHT_IMAGE_VMDK'),
  oci: env('PREFLIGHT_IMAGE_OCI'),
  ociGz: env('PREFLIGHT_IMAGE_OCI_GZ'),
  ova: env('PREFLIGHT_IMAGE_OVA'),
  lvmXfs: env('PREFLIGHT_IMAGE_LVM_XFS'),
  btrfs: env('PREFLIGHT_IMAGE_BTRFS'),
};
// The CLI built from the same core: the page's report must say what it says.
const CLI = env('PREFLIGHT_CLI');
// Generous: a cold worker compiles about a megabyte of WebAssembly first.
const REPORT_TIMEOUT = 60_000;

let server;
let browser;
let scratch;

before(async () => {
  server = await serve(DIST);
  scratch = await mkdtemp(join(tmpdir(), 'preflight-e2e-'));
  // Playwright gives every launch a fresh, temporary profile (user data dir).
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  await server?.close();
  await rm(scratch, { recursive: true, force: true });
});

/**
 * A fresh page (own context: own local storage) that records every request and every error.
 * `problems` collects page errors, console errors (CSP violations are reported there) and
 * failed requests; each test ends by asserting it is empty.
 */
async function openPage({ width = 1280, height = 900 } = {}) {
  const context = await browser.newContext({
    viewport: { width, height },
    acceptDownloads: true,
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  const page = await context.newPage();
  const requests = [];
  const problems = [];
  context.on('request', (r) => requests.push({ method: r.method(), url: r.url() }));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  await page.goto(server.url);
  await page.waitForSelector('#dropzone');
  return { context, page, requests, problems };
}

async function close({ context, problems }) {
  await context.close();
  assert.deepEqual(problems, [], 'the page reported errors');
}

/** Every request since `from` is a same-origin GET of the site's own files. */
function assertOnlyOwnFiles(requests, from = 0) {
  const seen = requests.slice(from);
  for (const r of seen) {
    assert.equal(r.method, 'GET', `unexpected ${r.method} ${r.url}`);
    assert.ok(r.url.startsWith(server.url), `request outside the site: ${r.url}`);
  }
  return seen;
}

/** Pick `image` with the file input and wait for its report or its error (by file name, so a
 * previous result on the page does not count). */
async function inspect(page, image) {
  const name = basename(image);
  await page.setInputFiles('#file-input', image);
  await page.waitForFunction(
    (name) =>
      [...document.querySelectorAll('#report .eyebrow, #inspection-error h2')].some((e) =>
        e.textContent.includes(name),
      ),
    name,
    { timeout: REPORT_TIMEOUT },
  );
}

async function findings(page) {
  return page.$$eval('[data-rule][data-level]', (els) =>
    els.map((e) => `${e.dataset.rule}:${e.dataset.level}`).sort(),
  );
}

/** The blocker entries of `findings()`. */
function blockersOf(list) {
  return list.filter((f) => f.endsWith(':blocker'));
}

async function shot(page, name, fullPage = true) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}

test('the page says what it does and that nothing is uploaded', async () => {
  const p = await openPage();
  const lede = await p.page.textContent('.lede');
  assert.match(lede, /never leaves your computer/);
  const csp = await p.page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content');
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /'wasm-unsafe-eval'/);
  assert.equal(await p.page.locator('input[type="file"]#file-input').count(), 1);
  // Everything the page loaded came from its own sub-path.
  const loaded = assertOnlyOwnFiles(p.requests);
  assert.ok(loaded.some((r) => r.url.endsWith('app_bg.wasm')), 'the module was loaded');
  // Keyboard: the skip link comes first, the file picker is reachable with Tab.
  await p.page.keyboard.press('Tab');
  assert.equal(await p.page.evaluate(() => document.activeElement.className), 'skip-link');
  let reached = false;
  for (let i = 0; i < 6 && !reached; i++) {
    await p.page.keyboard.press('Tab');
    reached = await p.page.evaluate(() => document.activeElement.id === 'file-input');
  }
  assert.ok(reached, 'the file input is reachable with the keyboard');
  await shot(p.page, '01-start');
  await close(p);
});

test('a clean image: ready, paravirtualized, no blocker, the CLI findings, nothing sent anywhere', async () => {
  const p = await openPage();
  const mark = p.requests.length;
  await inspect(p.page, IMAGES.clean);
  assert.equal(await p.page.getAttribute('.verdict', 'data-verdict'), 'ready');
  assert.equal(await p.page.getAttribute('[data-launch-mode]', 'data-launch-mode'), 'PARAVIRTUALIZED');
  assert.deepEqual(blockersOf(await findings(p.page)), []);
  // Every finding the CLI reports (warnings: no firewall, root's shell, …) is on the page.
  const cli = cliReport(IMAGES.clean);
  assert.deepEqual(await findings(p.page), cli.findings.map((f) => `${f.rule}:${f.level}`).sort());
  // Grouped by area, with counts per level.
  for (const area of new Set(cli.findings.map((f) => f.area))) {
    assert.ok(await p.page.$(`[data-area-group="${area}"]`), `no group for area ${area}`);
  }
  // The sample boots with UEFI (an EFI system partition with a loader on the removable path).
  assert.match(await p.page.textContent('.launch-mode'), /UEFI_64/);
  // The worker's own files are the only requests the inspection made.
  const during = assertOnlyOwnFiles(p.requests, mark);
  for (const r of during) {
    assert.match(r.url, /(worker_loader\.js|worker\.js|worker_bg\.wasm)$/, `unexpected request ${r.url}`);
  }
  await shot(p.page, '02-clean-report');
  await close(p);
});

test('a violating image: S01 and S10 blockers with evidence, remedy and source', async () => {
  const p = await openPage();
  const mark = p.requests.length;
  await inspect(p.page, IMAGES.violating);
  assertOnlyOwnFiles(p.requests, mark);
  assert.equal(await p.page.getAttribute('.verdict', 'data-verdict'), 'blocked');
  assert.deepEqual(blockersOf(await findings(p.page)), ['S01:blocker', 'S10:blocker']);
  const s01 = p.page.locator('[data-rule="S01"]');
  assert.match(await s01.textContent(), /\/etc\/ssh\/ssh_host_ed25519_key/);
  assert.match(await s01.locator('.remedy').textContent(), /rm -f \/etc\/ssh\/ssh_host_\*/);
  assert.match(await s01.locator('.source a').getAttribute('href'), /^https:\/\//);
  assert.match(await p.page.textContent('[data-rule="S10"]'), /\/root\/.ssh\/authorized_keys/);
  // The host's private key is named, never shown.
  const hostKey = await readFile(new URL('../fixtures/data/test_host_ed25519_key', import.meta.url), 'utf8');
  assert.ok(!(await p.page.content()).includes(hostKey.split('\n')[1]), 'private key material in the page');

  // Copy the remedy.
  await s01.locator('.copy-button').click();
  await p.page.waitForSelector('[data-rule="S01"] .copy-status:has-text("Copied")');
  const clip = await p.page.evaluate(() => navigator.clipboard.readText());
  assert.match(clip, /rm -f \/etc\/ssh\/ssh_host_\*/);

  // Download the report: the CLI's JSON.
  const [download] = await Promise.all([
    p.page.waitForEvent('download'),
    p.page.click('#download-report'),
  ]);
  assert.equal(download.suggestedFilename(), 'disk.qcow2.preflight.json');
  const report = JSON.parse(await readFile(await download.path(), 'utf8'));
  assert.equal(report.schema_version, 1);
  assert.deepEqual(report.findings.filter((f) => f.level === 'blocker').map((f) => f.rule).sort(), ['S01', 'S10']);
  assert.equal(report.verdict.status, 'blocked');
  assert.ok(report.stats.read_calls > 0);
  await shot(p.page, '03-violating-report');

  // Narrow window.
  await p.page.setViewportSize({ width: 390, height: 844 });
  await p.page.evaluate(() => window.scrollTo(0, 0));
  await shot(p.page, '04-violating-narrow', false);
  await s01.screenshot({ path: join(SHOTS, '04-violating-narrow-finding.png') });
  await close(p);
});

test('a 3 GiB raw image: read past 2 GiB, IMP-FORMAT blocker, launch mode shown', async () => {
  const p = await openPage();
  const mark = p.requests.length;
  await inspect(p.page, IMAGES.large);
  assertOnlyOwnFiles(p.requests, mark);
  assert.equal(await p.page.getAttribute('[data-launch-mode]', 'data-launch-mode'), 'PARAVIRTUALIZED');
  assert.deepEqual(blockersOf(await findings(p.page)), ['IMP-FORMAT:blocker']);
  assert.match(await p.page.textContent('.verdict .eyebrow'), /3\.0 GiB virtual/);
  const [download] = await Promise.all([
    p.page.waitForEvent('download'),
    p.page.click('#download-report'),
  ]);
  const report = JSON.parse(await readFile(await download.path(), 'utf8'));
  assert.equal(report.image.virtual_size, 3072 * 1024 * 1024);
  assert.equal(report.partition_table.scheme, 'gpt');
  // The GPT's backup header (the disk's last sector) was checked: the report has no
  // complaint about it, which needs a read beyond 2 GiB.
  assert.ok(!JSON.stringify(report.partition_table.diagnostics).match(/backup/i), JSON.stringify(report.partition_table));
  await shot(p.page, '05-large-raw');
  await close(p);
});

/** The CLI's JSON report of `image` (exit 0 and 1 both carry a report). */
function cliReport(image, extra = []) {
  let out;
  try {
    out = execFileSync(CLI, ['check', image, '--format', 'json', ...extra], { encoding: 'utf8' });
  } catch (e) {
    if (e.status !== 1) throw e;
    out = e.stdout;
  }
  return JSON.parse(out);
}

/** What must be equal between the page and the CLI: everything but timing. */
function comparable(report) {
  const { stats, ...rest } = report;
  return rest;
}

for (const [label, key, format] of [
  ['a streamOptimized VMDK', 'vmdk', 'VMDK'],
  ['an .oci archive (tar)', 'oci', 'OCI archive (QCOW2)'],
  ['an .oci archive (tar.gz)', 'ociGz', 'OCI archive (QCOW2)'],
  ['Oracle Linux layout (XFS on LVM)', 'lvmXfs', 'RAW'],
  ['Fedora layout (Btrfs subvolumes)', 'btrfs', 'RAW'],
]) {
  test(`${label}: the same report as the CLI`, async () => {
    const p = await openPage();
    const mark = p.requests.length;
    await inspect(p.page, IMAGES[key]);
    assertOnlyOwnFiles(p.requests, mark);
    assert.match(await p.page.textContent('.verdict .eyebrow'), new RegExp(format.replace(/[().]/g, '\\$&')));
    const [download] = await Promise.all([
      p.page.waitForEvent('download'),
      p.page.click('#download-report'),
    ]);
    const page = JSON.parse(await readFile(await download.path(), 'utf8'));
    const cli = cliReport(IMAGES[key]);
    assert.deepEqual(comparable(page), comparable(cli));
    // And the page shows each of those findings.
    assert.deepEqual(
      await findings(p.page),
      cli.findings.map((f) => `${f.rule}:${f.level}`).sort(),
    );
    await p.page.click('#details summary');
    await shot(p.page, `07-${key}-report`);
    await close(p);
  });
}

test('an OVA with the manifest option: digests checked, the same report as the CLI', async () => {
  const p = await openPage();
  await p.page.check('#verify-manifest');
  await inspect(p.page, IMAGES.ova);
  const [download] = await Promise.all([
    p.page.waitForEvent('download'),
    p.page.click('#download-report'),
  ]);
  const page = JSON.parse(await readFile(await download.path(), 'utf8'));
  const checks = page.image.archive.ovf.manifest_checks;
  assert.equal(checks.length, 2, JSON.stringify(checks));
  assert.ok(checks.every((c) => c.matches === true), JSON.stringify(checks));
  assert.deepEqual(comparable(page), comparable(cliReport(IMAGES.ova, ['--verify-manifest'])));
  await close(p);
});

test('the sample button and a dropped file both run the whole inspection', async () => {
  const p = await openPage();
  await p.page.click('#sample-button');
  await p.page.waitForSelector('#report', { timeout: REPORT_TIMEOUT });
  assert.match(await p.page.textContent('.verdict .eyebrow'), /debian-12-sample\.qcow2/);
  assert.equal(await p.page.getAttribute('[data-launch-mode]', 'data-launch-mode'), 'PARAVIRTUALIZED');
  assertOnlyOwnFiles(p.requests);

  // Drop a file on the drop zone (a real drop event with a DataTransfer).
  await p.page.evaluate(async () => {
    const blob = await (await fetch('./sample/debian-12-sample.qcow2')).blob();
    const data = new DataTransfer();
    data.items.add(new File([blob], 'dropped.qcow2'));
    const zone = document.getElementById('dropzone');
    zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
  });
  await p.page.waitForSelector('.verdict .eyebrow:has-text("dropped.qcow2")', { timeout: REPORT_TIMEOUT });
  await close(p);
});

test('a corrupt or empty image gives a clear message in the page', async () => {
  const p = await openPage();
  // The first 100 bytes of a QCOW2 v3 image: a header that stops short.
  const truncated = join(scratch, 'truncated.qcow2');
  await writeFile(truncated, (await readFile(IMAGES.clean)).subarray(0, 100));
  await inspect(p.page, truncated);
  const error = p.page.locator('#inspection-error');
  assert.equal(await error.getAttribute('role'), 'alert');
  const text = await error.textContent();
  assert.match(text, /truncated\.qcow2/);
  assert.match(text, /QCOW2 image is corrupt/);
  await shot(p.page, '06-corrupt-image');

  const empty = join(scratch, 'empty.img');
  await writeFile(empty, '');
  await inspect(p.page, empty);
  assert.match(await p.page.textContent('#inspection-error'), /0 bytes/);

  // Another file can be dropped right away.
  await inspect(p.page, IMAGES.clean);
  assert.equal(await p.page.getAttribute('.verdict', 'data-verdict'), 'ready');
  await close(p);
});

test('cancel stops a running inspection', async () => {
  const p = await openPage();
  await p.page.setInputFiles('#file-input', IMAGES.large);
  // The worker must first compile its module, so the cancel button is there for a while.
  await p.page.click('#cancel-button', { timeout: 10_000 });
  await p.page.waitForSelector('.notice:has-text("Inspection cancelled")');
  assert.equal(await p.page.locator('#report').count(), 0);
  assert.equal(await p.page.locator('#progress').count(), 0);
  // Cancelling terminates the worker; when that happens before its script finished loading,
  // Chromium aborts that fetch. That is what cancel means, not a page error.
  const aborted = /^request failed: \S+\/(worker_loader\.js|worker\.js|worker_bg\.wasm) net::ERR_ABORTED$/;
  p.problems.splice(0, p.problems.length, ...p.problems.filter((e) => !aborted.test(e)));
  await close(p);
});

/** The listing statuses as { ID: status }. */
async function statuses(page) {
  const list = await page.$$eval('[data-check]', (els) => els.map((e) => [e.dataset.check, e.dataset.status]));
  return Object.fromEntries(list);
}

const GOOD = {
  '#listing-name': 'Acme Analytics Server',
  '#listing-headline': 'Self-hosted analytics for web and mobile apps',
  '#listing-short-description': 'Collects and charts usage data on your own instance.',
  '#listing-long-description': 'For product teams who want analytics without a third party. Docs: https://docs.acme.example.com/server',
  '#listing-usage': 'Launch an instance, then connect with SSH on port 22 as user opc with the private key you chose at launch.',
  '#listing-sysreq': 'Shapes: VM.Standard.E4.Flex, at least 2 OCPUs and 16 GB memory. Boot volume: 50 GB. Open ingress TCP port 22 and 443 in the security list.',
  '#listing-version': '2.4.1',
  '#listing-username': 'opc',
  '#listing-release-notes': 'Version 2.4.1 fixes the chart export.',
  '#contact-0-name': 'Acme Support',
  '#contact-0-email': 'support@acme.example.com',
  '#contact-0-phone': '+1 650 555 0100',
  '#link-0-name': 'Documentation',
  '#link-0-url': 'https://docs.acme.example.com/server',
};

test('the listing checklist: good values pass, bad values fail, the form survives a reload', async () => {
  const p = await openPage();
  const initial = await statuses(p.page);
  assert.deepEqual(Object.keys(initial).sort(), [
    'LST-HEADLINE', 'LST-LINKS', 'LST-NAME', 'LST-PLACEHOLDER', 'LST-SUPPORT', 'LST-SYSREQ',
    'LST-USAGE-CONNECT', 'LST-VERSION',
  ]);
  assert.ok(Object.values(initial).every((s) => s === 'na'), JSON.stringify(initial));

  for (const [selector, value] of Object.entries(GOOD)) {
    await p.page.fill(selector, value);
  }
  const good = await statuses(p.page);
  for (const [id, status] of Object.entries(good)) {
    assert.equal(status, 'pass', `${id} should pass: ${await p.page.textContent(`[data-check="${id}"]`)}`);
  }
  await shot(p.page, '07-listing-good');

  const bad = {
    '#listing-name': 'A'.repeat(81),
    '#listing-headline': 'Fast\nanalytics\nfor everyone',
    '#listing-usage': 'Just log in.',
    '#listing-sysreq': 'Runs anywhere',
    '#contact-0-email': 'support.acme.com',
    '#link-0-url': 'http://docs.acme.example.com',
    '#listing-version': '2.4.1+build/5',
    '#listing-long-description': 'TODO: write this',
  };
  for (const [selector, value] of Object.entries(bad)) {
    await p.page.fill(selector, value);
  }
  const failing = await statuses(p.page);
  for (const [id, status] of Object.entries(failing)) {
    assert.equal(status, 'fail', `${id} should fail: ${await p.page.textContent(`[data-check="${id}"]`)}`);
  }
  assert.match(await p.page.textContent('[data-check="LST-LINKS"]'), /uses http:\/\//);
  await p.page.locator('.checks').scrollIntoViewIfNeeded();
  await shot(p.page, '08-listing-bad', false);

  // Kept in local storage: a reload shows the same values and results.
  await p.page.reload();
  await p.page.waitForSelector('#listing-name');
  assert.equal(await p.page.inputValue('#listing-name'), 'A'.repeat(81));
  assert.equal(await p.page.inputValue('#contact-0-phone'), GOOD['#contact-0-phone']);
  assert.deepEqual(await statuses(p.page), failing);
  // Nothing was sent while typing.
  assertOnlyOwnFiles(p.requests);
  await close(p);
});

// ---------------------------------------------------------------------------------------------
// The launch-decision card (web/src/decision_view.rs).

/** Download what clicking `selector` saves: { name, text }. */
async function downloadOf(page, selector) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  return { name: download.suggestedFilename(), text: await readFile(await download.path(), 'utf8') };
}

/** The badge each `DriverReach.status` gets (web/src/decision.rs::driver_badge). */
const DRIVER_BADGES = {
  builtin: 'built in',
  initramfs: 'in initramfs',
  installed: 'installed, NOT in initramfs',
  absent: 'absent',
  unknown: 'unknown',
};

/**
 * Check the decision card against `rec` (a report's `recommendation`): mode, firmware, one
 * chain step per link, one row per driver and shape (fitting shapes first), one card per
 * mode, and the artifacts' Download buttons (their files equal the report's artifacts) or
 * their absence.
 */
async function checkDecisionCard(page, rec) {
  const card = page.locator('#decision');
  assert.equal(await card.getAttribute('data-launch-mode'), rec.launch_mode ?? 'NONE');
  assert.equal((await page.textContent('#launch-mode')).trim(), rec.launch_mode ?? 'Not decided');
  assert.equal(await card.evaluate((e) => e.classList.contains('undecided')), !rec.launch_mode);
  assert.deepEqual(
    await page.$$eval('#firmware [data-firmware]', (els) => els.map((e) => e.dataset.firmware)),
    rec.firmware,
  );
  assert.deepEqual(
    await page.$$eval('#reasons li', (els) => els.map((e) => e.textContent)),
    rec.reasons,
  );

  const chain = rec.chain ?? [];
  const steps = await page.$$eval('#chain > li', (els) =>
    els.map((e) => ({ step: e.dataset.chainStep, ok: e.dataset.ok === 'true', text: e.textContent })),
  );
  assert.equal(steps.length, chain.length);
  chain.forEach((c, i) => {
    assert.equal(steps[i].step, c.step);
    assert.equal(steps[i].ok, c.ok);
    assert.ok(steps[i].text.includes(c.summary), `${c.step}: ${steps[i].text}`);
    if (c.path) assert.ok(steps[i].text.includes(c.path), `${c.step}: no ${c.path}`);
  });

  const drivers = await page.$$eval('#drivers-table tbody tr', (els) =>
    els.map((e) => ({ name: e.dataset.driver, badge: e.querySelector('.reach').textContent })),
  );
  assert.deepEqual(
    drivers,
    (rec.drivers ?? []).map((d) => ({ name: d.name, badge: DRIVER_BADGES[d.status] ?? 'unknown' })),
  );

  assert.deepEqual(
    await page.$$eval('#modes [data-mode]', (els) => els.map((e) => `${e.dataset.mode}:${e.dataset.possible}`)),
    (rec.modes ?? []).map((m) => `${m.mode}:${m.possible}`),
  );

  const shapes = rec.shapes ?? [];
  assert.equal(await page.locator('#shapes-table tbody tr').count(), shapes.length);
  if (shapes.length > 0) {
    const rows = await page.$$eval('#shapes-table tbody tr', (els) =>
      els.map((e) => ({ shape: e.dataset.shape, fits: e.dataset.fits === 'true' })),
    );
    // Fitting shapes first, each group in the shape table's order.
    const expected = [...shapes.filter((s) => s.fits), ...shapes.filter((s) => !s.fits)];
    assert.deepEqual(rows, expected.map((s) => ({ shape: s.shape, fits: s.fits })));
    assert.equal(await page.locator('#shapes-table thead th[scope="col"]').count(), 5);
    if (rec.shapes_as_of) {
      assert.equal(await page.textContent('#shapes-as-of'), `shape table as of ${rec.shapes_as_of}`);
    }
  }

  const buttons = ['#download-schema', '#download-commands', '#download-metadata'];
  const a = rec.artifacts;
  if (!a) {
    for (const b of buttons) assert.equal(await page.locator(b).count(), 0, `${b} without artifacts`);
    assert.equal(await page.locator('#artifacts').count(), 0);
    return;
  }
  const schema = await downloadOf(page, '#download-schema');
  assert.equal(schema.name, 'schema.json');
  assert.deepEqual(JSON.parse(schema.text), a.capability_schema);
  const metadata = await downloadOf(page, '#download-metadata');
  assert.equal(metadata.name, 'image_metadata.json');
  assert.deepEqual(JSON.parse(metadata.text), a.image_metadata);
  const script = await downloadOf(page, '#download-commands');
  assert.equal(script.name, 'oci-commands.sh');
  assert.match(script.text, /^#!\/bin\/sh\n/);
  for (const cmd of [a.import_command, a.schema_command, ...a.shape_commands]) {
    assert.ok(script.text.includes(cmd), `oci-commands.sh lacks ${cmd}`);
  }
  // The schema shown is the schema downloaded.
  assert.deepEqual(JSON.parse(await page.textContent('[data-artifact="schema"] pre')), a.capability_schema);
}

test('the launch-decision card agrees with the downloaded report', async () => {
  const p = await openPage();
  const mark = p.requests.length;
  await inspect(p.page, IMAGES.clean);
  const report = JSON.parse((await downloadOf(p.page, '#download-report')).text);
  await checkDecisionCard(p.page, report.recommendation);
  // The downloads are object URLs made in the page: no request at all.
  assertOnlyOwnFiles(p.requests, mark);
  await p.page.locator('#decision').screenshot({ path: join(SHOTS, '09-decision-card-clean.png') });
  await close(p);
});

/** A report with every field of the decision filled, made by hand while the core learns to
 * fill them: the card must show all of it. */
const SAMPLE_DECISION = JSON.parse(
  await readFile(new URL('./sample-decision-report.json', import.meta.url), 'utf8'),
);

/**
 * Open the page with the worker's report replaced by `sample` (the file name kept, so
 * `inspect` sees its report): the card is tested on a full recommendation whatever the core
 * fills today. Runs before the page's own scripts; only the worker's "done" message changes.
 */
async function openPageWithReport(sample, options) {
  const p = await openPage(options);
  await p.page.addInitScript((sample) => {
    const Real = window.Worker;
    window.Worker = class extends Real {
      set onmessage(handler) {
        super.onmessage = (event) => {
          let data = event.data;
          const message = typeof data === 'string' ? JSON.parse(data) : null;
          if (message?.kind === 'done') {
            const report = structuredClone(sample);
            report.image.name = JSON.parse(message.report).image.name;
            data = JSON.stringify({ kind: 'done', report: JSON.stringify(report, null, 2) + '\n' });
          }
          handler.call(this, new MessageEvent('message', { data }));
        };
      }
    };
  }, sample);
  await p.page.reload();
  await p.page.waitForSelector('#dropzone');
  return p;
}

test('the launch-decision card shows a full recommendation: chain, drivers, shapes, artifacts', async () => {
  const p = await openPageWithReport(SAMPLE_DECISION);
  const mark = p.requests.length;
  await inspect(p.page, IMAGES.clean);
  const rec = SAMPLE_DECISION.recommendation;
  await checkDecisionCard(p.page, rec);
  assert.match(await p.page.textContent('.mode-meaning'), /virtio/);
  assert.match(await p.page.textContent('#network-attachment'), new RegExp(rec.network_attachment));
  assert.match(await p.page.textContent('#boot-volume-type'), new RegExp(rec.boot_volume_type));
  assert.equal(await p.page.textContent('#architecture'), rec.architecture);
  // The first firmware is the one to set.
  assert.match(await p.page.textContent('#firmware li:first-child'), /set this/);
  // Details are collapsed until asked for.
  const details = p.page.locator('#chain details').first();
  assert.equal(await details.evaluate((d) => d.open), false);
  await details.locator('summary').click();
  assert.equal(await details.evaluate((d) => d.open), true);

  // Copy a command: the clipboard holds it exactly.
  await p.page.click('#copy-import');
  await p.page.waitForSelector('[data-artifact="import"] .action-status:has-text("Copied")');
  assert.equal(await p.page.evaluate(() => navigator.clipboard.readText()), rec.artifacts.import_command);
  // Every button says what it does.
  for (const b of await p.page.locator('#decision button').all()) {
    assert.match(await b.getAttribute('aria-label'), /^(Copy|Download) the /);
  }
  // The downloads were made in the page: nothing went out.
  assertOnlyOwnFiles(p.requests, mark);

  await p.page.locator('#decision').screenshot({ path: join(SHOTS, '09-decision-card.png') });
  await p.page.setViewportSize({ width: 390, height: 844 });
  const overflow = await p.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a narrow window`);
  await p.page.locator('#decision').screenshot({ path: join(SHOTS, '09-decision-card-narrow.png') });
  await close(p);
});

test('without the clipboard API, Copy falls back to the selection', async (t) => {
  const p = await openPageWithReport(SAMPLE_DECISION);
  await p.page.addInitScript(() => {
    window.realClipboard = navigator.clipboard;
    Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined });
  });
  await p.page.reload();
  await p.page.waitForSelector('#dropzone');
  await inspect(p.page, IMAGES.clean);
  assert.equal(await p.page.evaluate(() => navigator.clipboard), undefined);
  await p.page.click('#copy-schema-command');
  await p.page.waitForSelector('[data-artifact="schema-command"] .action-status:not(:empty)');
  const status = await p.page.textContent('[data-artifact="schema-command"] .action-status');
  t.diagnostic(`fallback copy: ${status}`);
  if (status.includes('Copied')) {
    assert.equal(
      await p.page.evaluate(() => window.realClipboard.readText()),
      SAMPLE_DECISION.recommendation.artifacts.schema_command,
    );
  } else {
    assert.match(status, /select the text and copy it/);
  }
  // The helper text area is gone and the focus is back on the button.
  assert.equal(await p.page.locator('.clipboard-helper').count(), 0);
  assert.equal(await p.page.evaluate(() => document.activeElement.id), 'copy-schema-command');
  await close(p);
});

test('an undecided recommendation: the card says so and keeps the reasons', async () => {
  const undecided = structuredClone(SAMPLE_DECISION);
  undecided.recommendation = {
    launch_mode: null,
    firmware: [],
    reasons: ['no kernel was found in /boot', 'the boot loader configuration names no kernel'],
  };
  const p = await openPageWithReport(undecided);
  await inspect(p.page, IMAGES.clean);
  await checkDecisionCard(p.page, undecided.recommendation);
  assert.match(await p.page.textContent('#decision'), /not found/);
  assert.equal(await p.page.locator('#decision .copy-button').count(), 0, 'no command without a mode');
  await p.page.locator('#decision').screenshot({ path: join(SHOTS, '09-decision-card-undecided.png') });
  await close(p);
});
