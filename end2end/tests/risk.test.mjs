import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoServerAndBrowser, screenshotOnFailure, signInAs } from './harness.mjs';

const shared = demoServerAndBrowser();

test('an admin changes a weight and adds a separation-of-duties rule, and the scores and the record follow', async () => {
  const admin = await signInAs(shared.browser, shared.server.url, 'Admin');
  await screenshotOnFailure(admin, 'risk-settings', async () => {
    await admin.getByRole('link', { name: 'Risk settings' }).click();
    await admin.waitForURL(/\/admin\/risk$/);
    await admin.waitForLoadState('networkidle');
    // The demo bundle brings its rules, each with how many identities hold both sides.
    const bundled = admin.locator('tr[data-testid="sod-rule"]', { hasText: 'changes code and deploys it to production unreviewed' });
    await bundled.getByText('from the demo bundle').waitFor();

    await admin.getByLabel('Points: admin access').fill('40');
    await admin.getByRole('button', { name: 'Save and score again' }).click();
    await admin.getByText(/Saved: Points: admin access 30 → 40\. \d+ grants scored again\./).waitFor();
    await admin.locator('li[data-testid="settings-change"]', { hasText: 'Demo Admin' }).getByText('Points: admin access 30 → 40').waitFor();

    const form = admin.locator('form.sod-form');
    await form.getByLabel('Application', { exact: true }).fill('Okta');
    await form.getByLabel('Entitlement', { exact: true }).first().fill('Super Administrator');
    await form.getByLabel('and application').fill('Jira');
    await form.getByLabel('Entitlement', { exact: true }).last().fill('jira-administrators');
    await form.getByLabel('Reason').fill('administers sign-in and the tickets that request access');
    await form.getByRole('button', { name: 'Add rule' }).click();
    await admin.getByText(/Rule added\. \d+ grants scored again\./).waitFor();
    const added = admin.locator('tr[data-testid="sod-rule"]', { hasText: 'administers sign-in' });
    await added.getByText('by Demo Admin').waitFor();

    await admin.getByRole('link', { name: 'Risk', exact: true }).click();
    await admin.getByRole('cell', { name: 'toxic combination (separation of duties)' }).waitFor();
  });
  assert.ok(true);
});
