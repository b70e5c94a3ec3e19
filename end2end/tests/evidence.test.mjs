import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attest, launchBrowser, screenshotOnFailure, startServer, signInAs } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('an auditor exports the closed demo campaign, downloads the CSV and the printable report, and the export verifies', async () => {
  const auditor = await signInAs(browser, server.url, 'Auditor');
  const saved = mkdtempSync(join(tmpdir(), 'attest-evidence-'));
  await screenshotOnFailure(auditor, 'evidence-auditor', async () => {
    // The closed demo campaign shows its remediation: verified, failed and open tasks.
    await auditor.getByRole('link', { name: 'Campaigns' }).click();
    await auditor.getByRole('link', { name: 'GitHub access review (demo, closed)' }).click();
    await auditor.getByText(/revocations to carry out: 1 open, 0 done, 1 verified by an import, 1 failed/).waitFor();
    await auditor.getByRole('link', { name: 'Export evidence' }).click();
    await auditor.waitForURL(/\/evidence\?campaign=\d+$/);
    await auditor.waitForLoadState('networkidle');
    await auditor.getByRole('button', { name: 'Create export' }).click();
    const row = auditor.locator('table.exports tr[data-export]').first();
    await row.waitFor();

    for (const name of ['decisions.csv', 'decisions.json', 'manifest.json']) {
      const [download] = await Promise.all([auditor.waitForEvent('download'), row.getByRole('link', { name }).click()]);
      await download.saveAs(join(saved, name));
    }
    const csv = readFileSync(join(saved, 'decisions.csv'), 'utf8');
    assert.match(csv, /^Campaign ID,Campaign,Campaign launched at,/, 'the CSV header');
    assert.match(csv, /Not used in months; the team moved to deploy keys\./, 'the revocations with their justification');
    assert.match(csv, /,verified,/, 'a verified remediation');

    const [report] = await Promise.all([auditor.context().waitForEvent('page'), row.getByRole('link', { name: 'report.html' }).click()]);
    await report.waitForLoadState();
    await report.getByRole('heading', { name: 'Access review evidence' }).waitFor();
    await report.getByRole('heading', { name: 'Revocations and remediation' }).waitFor();
    await report.emulateMedia({ media: 'print' });
    const pdf = await report.pdf();
    assert.equal(pdf.subarray(0, 4).toString(), '%PDF', 'the report prints to PDF');
    const response = await auditor.request.get(`${server.url}/evidence/${await row.getAttribute('data-export')}/report.html`);
    writeFileSync(join(saved, 'report.html'), await response.body());
  });

  const verified = await attest(['verify', '--export', saved], server.env);
  assert.match(verified, /verified: 3 files and \d+ log entries match the manifest and this server's log/);
  const csvPath = join(saved, 'decisions.csv');
  writeFileSync(csvPath, readFileSync(csvPath, 'utf8').replace('verified', 'verifiee'));
  await assert.rejects(attest(['verify', '--export', saved, '--offline'], server.env), /decisions\.csv: changed/);
});
