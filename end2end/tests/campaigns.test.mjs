import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoServerAndBrowser, inDays, screenshotOnFailure, signInAs } from './harness.mjs';

const shared = demoServerAndBrowser();

test('an owner launches a campaign, a reviewer decides the riskiest items by keyboard, and the owner closes it with the revocation listed', async () => {
  const owner = await signInAs(shared.browser, shared.server.url, 'Campaign Owner');
  const reviewer = await signInAs(shared.browser, shared.server.url, 'Reviewer');
  await screenshotOnFailure(owner, 'campaign-owner', async () => {
    await owner.goto(`${shared.server.url}/campaigns/new`);
    await owner.waitForLoadState('networkidle');
    await owner.getByLabel('Name', { exact: true }).fill('GitHub access review');
    await owner.getByLabel('Scope (a query over grants)').fill('app:GitHub');
    await owner.getByText(/\d+ grants in scope/).waitFor();
    await owner.getByLabel(/^Fallback reviewer/).fill('demo.campaign.owner@example.com');
    await owner.getByLabel('Deadline', { exact: true }).fill(inDays(14));
    await owner.getByRole('button', { name: 'Save draft' }).click();
    await owner.waitForURL(/\/campaigns\/\d+$/);
    await owner.getByRole('button', { name: /^Launch/ }).click();
    await owner.getByTestId('campaign-status').filter({ hasText: 'Active, stage 1 of 1' }).waitFor();
    await owner.getByText(/Decision log verified/).waitFor();
  });

  let revokedName;
  await screenshotOnFailure(reviewer, 'campaign-reviewer', async () => {
    await reviewer.getByRole('link', { name: 'My reviews' }).click();
    await reviewer.waitForURL(/\/reviews$/);
    await reviewer.goto(`${shared.server.url}/reviews?q=GitHub`);
    await reviewer.waitForLoadState('networkidle');
    const rows = reviewer.locator('table.reviews tr.item');
    await rows.first().waitFor();
    const risks = await rows.locator('.risk').allInnerTexts();
    assert.deepEqual(risks.map(Number), [...risks.map(Number)].sort((a, b) => b - a), 'riskiest first');
    const progress = reviewer.getByTestId('review-progress');
    const decidedBefore = Number((await progress.innerText()).match(/^(\d+) decided/)[1]);

    // The selected row is the first; a decided item leaves the list, so the next comes up.
    const first = rows.first();
    await first.locator('input.justification').fill('needed for releases, used daily');
    await reviewer.locator('h1').click();
    await reviewer.keyboard.press('a');
    await progress.filter({ hasText: `${decidedBefore + 1} decided` }).waitFor();

    revokedName = (await rows.first().locator('td:nth-child(2) strong').innerText()).trim();
    await rows.first().locator('input.justification').fill('not used in months');
    await reviewer.locator('h1').click();
    await reviewer.keyboard.press('r');
    await progress.filter({ hasText: `${decidedBefore + 2} decided` }).waitFor();

    await rows.first().locator('input.justification').fill('migrating to a GitHub App by next quarter');
    await rows.first().getByLabel('Exception until').fill(inDays(60));
    await reviewer.locator('h1').click();
    await reviewer.keyboard.press('e');
    await progress.filter({ hasText: `${decidedBefore + 3} decided` }).waitFor();

    await reviewer.goto(`${shared.server.url}/reviews?q=GitHub&decided=1`);
    await reviewer.getByText('revoke by Demo Reviewer').first().waitFor();
    await reviewer.getByText(/exception until \d{4}-\d\d-\d\d by Demo Reviewer/).first().waitFor();
  });

  await screenshotOnFailure(owner, 'campaign-close', async () => {
    await owner.reload();
    await owner.waitForLoadState('networkidle');
    await owner.getByRole('heading', { name: /Progress: 3 of \d+ decided/ }).waitFor();
    await owner.getByRole('table').filter({ hasText: 'Median seconds per decision' }).getByText('Demo Reviewer').waitFor();
    await owner.getByRole('button', { name: 'Close the campaign' }).click();
    await owner.getByTestId('campaign-status').filter({ hasText: /^Closed/ }).waitFor();
    const revocations = owner.locator('table.revocations');
    await revocations.getByText(revokedName, { exact: true }).first().waitFor();
    const row = revocations.locator('tr').filter({ hasText: revokedName }).filter({ hasText: 'not used in months' });
    assert.equal(await row.count(), 1, 'the revoked item with its justification');
    await owner.getByText(/Decision log verified/).waitFor();
  });
  await owner.context().close();
  await reviewer.context().close();
});
