import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attest, demoServerAndBrowser, screenshotOnFailure, signInAs } from './harness.mjs';

const shared = demoServerAndBrowser();

test('an auditor exports the closed demo campaign, downloads the CSV and the printable report, and the export verifies', async () => {
  const auditor = await signInAs(shared.browser, shared.server.url, 'Auditor');
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
    const response = await auditor.request.get(`${shared.server.url}/evidence/${await row.getAttribute('data-export')}/report.html`);
    writeFileSync(join(saved, 'report.html'), await response.body());
  });

  const verified = await attest(['verify', '--export', saved], shared.server.env);
  assert.match(verified, /verified: 3 files and \d+ log entries match the manifest and this server's log/);
  const csvPath = join(saved, 'decisions.csv');
  writeFileSync(csvPath, readFileSync(csvPath, 'utf8').replace('verified', 'verifiee'));
  await assert.rejects(attest(['verify', '--export', saved, '--offline'], shared.server.env), /decisions\.csv: changed/);
});

test('an admin adds a webhook, sees its secret once, and a signed test event reaches the receiver', async () => {
  const received = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${receiver.address().port}/hooks/attest`;
  const admin = await signInAs(shared.browser, shared.server.url, 'Admin');
  try {
    await screenshotOnFailure(admin, 'webhook', async () => {
      await admin.getByRole('link', { name: 'Webhooks' }).click();
      await admin.waitForURL(/\/admin\/webhooks$/);
      await admin.waitForLoadState('networkidle');
      await admin.getByLabel('URL').fill(url);
      await admin.getByLabel('Description').fill('ticket queue');
      await admin.getByRole('button', { name: 'Add webhook' }).click();
      const secret = (await admin.getByTestId('new-webhook-secret').innerText()).trim();
      assert.match(secret, /^whsec_\S{40}$/);
      const row = admin.getByTestId('webhook').filter({ hasText: url });
      await row.getByRole('button', { name: 'Send a test event' }).click();
      await admin.getByText(/A ping is on its way/).waitFor();

      // The server's worker posts what is due every few seconds.
      for (let i = 0; i < 60 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 500));
      assert.equal(received.length, 1, 'the ping arrived');
      const { headers, body } = received[0];
      assert.equal(headers['x-attest-event'], 'ping');
      assert.equal(JSON.parse(body).sent_by, 'Demo Admin');
      const [, t] = headers['x-attest-signature'].match(/^t=(\d+),v1=[0-9a-f]{64}$/);
      const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
      assert.equal(headers['x-attest-signature'], `t=${t},v1=${expected}`, 'signed with the secret shown once');

      await admin.reload();
      await row.getByText('1 sent').waitFor();
      assert.equal(await admin.getByText(secret).count(), 0, 'the secret is never shown again');
      await row.getByRole('button', { name: 'Disable' }).click();
      await row.getByText(/disabled .* by Demo Admin/).waitFor();
    });
  } finally {
    await admin.context().close();
    receiver.close();
  }
});
