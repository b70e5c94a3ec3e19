// Starts the release binary on a fresh SQLite database and drives Debian's Chromium.
import { spawn } from 'node:child_process';
import { after, before } from 'node:test';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const binary = join(root, 'target', 'release', 'attest');

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/** Runs `attest` with the given database; resolves with its output, rejects on failure. */
export function attest(args, env) {
  return new Promise((ok, fail) => {
    const child = spawn(binary, args, { cwd: root, env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? ok(out) : fail(new Error(`attest ${args.join(' ')} failed (${code}):\n${out}`))));
  });
}

/** A running server on its own database: the demo, or with `env` (say, a sign-in provider). */
export async function startServer({ demo = true, port: chosen, env: extra = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'attest-e2e-'));
  const port = chosen ?? (await freePort());
  const env = {
    DATABASE_URL: `sqlite://${join(dir, 'attest.db')}`,
    ATTEST_EXPORTS_DIR: join(dir, 'exports'),
    ATTEST_ADDR: `127.0.0.1:${port}`,
    RUST_LOG: 'warn',
    ...extra,
  };
  if (demo) env.ATTEST_DEMO = '1';
  const child = spawn(binary, ['serve'], { cwd: root, env: { ...process.env, ...env } });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) throw new Error(`attest exited early:\n${log}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    env,
    dir,
    log: () => log,
    stop: () => new Promise((ok) => { child.once('exit', ok); child.kill('SIGTERM'); }),
  };
}

/** The test OpenID provider (end2end/oidc/provider.mjs) sending browsers back to `redirect`. */
export async function startProvider(redirect) {
  const child = spawn(process.execPath, [join(root, 'end2end', 'oidc', 'provider.mjs'), '--port', '0', '--redirect', redirect], { cwd: root });
  const issuer = await new Promise((ok, fail) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const match = /^issuer (\S+)/m.exec(out);
      if (match) ok(match[1]);
    });
    child.on('exit', (code) => fail(new Error(`the identity provider exited (${code}): ${out}`)));
  });
  return { issuer, stop: () => new Promise((ok) => { child.once('exit', ok); child.kill('SIGTERM'); }) };
}

export { freePort };

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/** Saves a screenshot under end2end/artifacts/ when a journey fails. */
export async function screenshotOnFailure(page, name, journey) {
  try {
    await journey();
  } catch (err) {
    const dir = join(root, 'end2end', 'artifacts');
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true }).catch(() => {});
    throw err;
  }
}

/** Signs in through the demo sign-in, as a person would. */
export async function signIn(page, url) {
  await page.goto(`${url}/identities`);
  await page.waitForURL(/\/sign-in$/);
  await page.getByRole('button', { name: /Sign in as Demo Admin/ }).click();
  await page.waitForURL(`${url}/`);
}

/** A new browser context signed in as a demo persona ("Reviewer", "Auditor", …), on the overview. */
export async function signInAs(browser, url, persona) {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(`${url}/sign-in`);
  await page.getByRole('button', { name: `Sign in as Demo ${persona} (demo)` }).click();
  await page.waitForURL(`${url}/`);
  return page;
}

// The demo server and a browser for the tests of one file: started before them, stopped after.
// Read them as `shared.server` and `shared.browser` once the tests run.
export function demoServerAndBrowser() {
  const shared = {};
  before(async () => {
    shared.server = await startServer();
    shared.browser = await launchBrowser();
  });
  after(async () => {
    await shared.browser?.close();
    await shared.server?.stop();
  });
  return shared;
}

// The date `days` from today, as a date field takes it.
export function inDays(days) {
  return new Date(Date.now() + days * 86400000).toISOString().slice(0, 10);
}
