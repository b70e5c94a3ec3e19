import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoServerAndBrowser, screenshotOnFailure, signIn } from './harness.mjs';

const shared = demoServerAndBrowser();

test('a reviewer finds service accounts without an owner and opens one to see its grants', async () => {
  const page = await shared.browser.newPage();
  await screenshotOnFailure(page, 'orphaned-service-accounts', async () => {
    await signIn(page, shared.server.url);
    await assert.doesNotReject(page.getByRole('status').filter({ hasText: 'Demo mode' }).waitFor());

    await page.getByRole('link', { name: 'Identities', exact: true }).click();
    await page.waitForURL(/\/identities$/);
    // Wait for hydration: the filters navigate by themselves once the app is interactive.
    await page.waitForFunction(() => document.querySelector('body')?.dataset !== undefined);
    await page.getByLabel('Kind').selectOption('service_account');
    await page.waitForURL(/kind=service_account/);
    await page.getByLabel('Owner').selectOption('absent');
    await page.waitForURL(/owner=absent/);

    const rows = page.locator('table.identities tbody tr');
    await rows.first().waitFor();
    const kinds = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.kind));
    assert.ok(kinds.length > 0, 'some service accounts have no owner in the demo estate');
    assert.deepEqual([...new Set(kinds)], ['service_account']);
    const owners = await rows.locator('td:nth-child(4)').allInnerTexts();
    assert.ok(owners.every((o) => o.trim() === 'no owner'), `owners: ${owners}`);

    const first = rows.first().getByRole('link').first();
    const name = (await first.innerText()).trim();
    await first.click();
    await page.getByRole('heading', { level: 1 }).filter({ hasText: name }).waitFor();
    await page.getByRole('heading', { name: /Grants \(\d+ active\)/ }).waitFor();
    const grants = page.locator('table.grants tbody tr');
    assert.ok((await grants.count()) > 0, 'the service account has grants');
    await assert.doesNotReject(page.getByText('none', { exact: true }).first().waitFor());
  });
  await page.close();
});

test('the identities page reads fine without JavaScript', async () => {
  const context = await shared.browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await screenshotOnFailure(page, 'no-javascript', async () => {
    await page.goto(`${shared.server.url}/sign-in`);
    await page.getByRole('button', { name: /Sign in as Demo Admin/ }).click();
    await page.goto(`${shared.server.url}/identities?kind=human&status=terminated`);
    const rows = page.locator('table.identities tbody tr');
    assert.ok((await rows.count()) > 0, 'terminated people are listed');
    const statuses = await rows.locator('td:nth-child(3)').allInnerTexts();
    assert.ok(statuses.every((s) => s.trim() === 'terminated'), `statuses: ${statuses}`);
    // The filter form submits as a plain GET.
    await page.getByLabel('Search').fill('zz-nobody-zz');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('Nothing matches').waitFor();
  });
  await context.close();
});

test('without a session every page sends the visitor to the sign-in page', async () => {
  const context = await shared.browser.newContext();
  const page = await context.newPage();
  for (const path of ['/', '/identities', '/applications', '/identities/1']) {
    await page.goto(`${shared.server.url}${path}`);
    assert.match(page.url(), /\/sign-in$/, path);
  }
  await context.close();
});

test('a reviewer queries the riskiest orphaned service accounts and reads why they are risky', async () => {
  const page = await shared.browser.newPage();
  await screenshotOnFailure(page, 'grants-query', async () => {
    await signIn(page, shared.server.url);
    await page.getByRole('link', { name: 'Grants', exact: true }).click();
    await page.waitForURL(/\/grants$/);
    // Every grant: the first page at once, the total counted after it.
    await page.locator('.pager-status').filter({ hasText: /^1–50 of [\d,]+$/ }).waitFor();
    await page.getByLabel('Query').fill('kind:service_account owner:none');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/query=kind/);
    const rows = page.locator('table.grants tbody tr');
    await rows.first().waitFor();
    const kinds = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.kind));
    assert.deepEqual([...new Set(kinds)], ['service_account']);
    const factors = await rows.locator('.factors').allInnerTexts();
    assert.ok(factors.every((f) => f.includes('no owner')), `factors: ${factors.slice(0, 3)}`);
    const scores = (await rows.locator('.risk').allInnerTexts()).map(Number);
    assert.deepEqual(scores, [...scores].sort((a, b) => b - a), 'riskiest first');

    await page.getByLabel('Query').fill('owmer:none');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('alert').filter({ hasText: 'did you mean `owner`' }).waitFor();

    await page.getByRole('link', { name: 'Risk', exact: true }).click();
    await page.getByRole('img', { name: /Grants by risk score/ }).waitFor();
  });
  await page.close();
});
