// The browser column of `cargo xtask bench`: the built site (dist/) in headless Chromium, each
// image picked with the file input, and the report's own `stats` (bytes read, read calls,
// elapsed time measured by the worker) taken from the downloaded JSON — the same fields the
// native CLI reports, so the two columns compare like with like.
//
// Input:  PREFLIGHT_DIST, PREFLIGHT_BENCH_IMAGES (JSON: [{ "name": …, "path": … }]).
// Output: one line per image on stdout, `BENCH {"name":…,"bytes_read":…,"read_calls":…,
//         "elapsed_ms":…,"wall_ms":…}`; wall_ms also counts the page's own work (worker start,
//         WebAssembly compile on the first image, rendering).

import { readFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import { serve } from './server.mjs';

const dist = process.env.PREFLIGHT_DIST;
const images = JSON.parse(process.env.PREFLIGHT_BENCH_IMAGES ?? '[]');
if (!dist || images.length === 0) {
  console.error('run through `cargo xtask bench` (PREFLIGHT_DIST, PREFLIGHT_BENCH_IMAGES)');
  process.exit(2);
}

const server = await serve(dist);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});

let failed = false;
try {
  for (const { name, path } of images) {
    // A fresh context per image: no cache from the previous one, and the report found on the
    // page is this image's.
    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url);
    await page.waitForSelector('#dropzone');
    const started = performance.now();
    await page.setInputFiles('#file-input', path);
    await page.waitForSelector('#report #download-report, #inspection-error', { timeout: 600_000 });
    const wall = Math.round(performance.now() - started);
    if (await page.$('#inspection-error')) {
      console.error(`${name}: ${await page.textContent('#inspection-error')}`);
      failed = true;
    } else {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.click('#download-report'),
      ]);
      const report = JSON.parse(await readFile(await download.path(), 'utf8'));
      const { bytes_read, read_calls, elapsed_ms } = report.stats;
      console.log(`BENCH ${JSON.stringify({ name, bytes_read, read_calls, elapsed_ms, wall_ms: wall })}`);
    }
    if (errors.length) {
      console.error(`${name}: page errors: ${errors.join('; ')}`);
      failed = true;
    }
    await context.close();
  }
} finally {
  await browser.close();
  await server.close();
}
process.exit(failed ? 1 : 0);
