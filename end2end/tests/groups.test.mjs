import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoServerAndBrowser, inDays, screenshotOnFailure, signInAs } from './harness.mjs';

const shared = demoServerAndBrowser();

test('an owner makes a reviewer group, launches a campaign for it, and a member decides one of its items', async () => {
  const owner = await signInAs(shared.browser, shared.server.url, 'Campaign Owner');
  const reviewer = await signInAs(shared.browser, shared.server.url, 'Reviewer');
  await screenshotOnFailure(owner, 'groups-owner', async () => {
    await owner.getByRole('link', { name: 'Groups' }).click();
    await owner.waitForURL(/\/admin\/groups$/);
    await owner.waitForLoadState('networkidle');
    await owner.getByLabel('Name', { exact: true }).fill('Atlassian admins');
    await owner.getByLabel('Description').fill('They run Jira and know who needs it');
    await owner.getByRole('button', { name: 'Create group' }).click();
    const group = owner.getByRole('region', { name: 'Atlassian admins' });
    await group.getByText('No members yet').waitFor();
    await group.getByLabel('Add a member (email)').fill('demo.reviewer@example.com');
    await group.getByRole('button', { name: 'Add', exact: true }).click();
    await owner.getByRole('table', { name: 'Members of Atlassian admins' }).getByRole('link', { name: 'Demo Reviewer' }).waitFor();
    // The change is recorded with who made it.
    const history = owner.locator('table.history tr').filter({ hasText: 'Atlassian admins' }).filter({ hasText: 'demo.reviewer@example.com' });
    await history.getByText('Demo Campaign Owner').waitFor();

    await owner.goto(`${shared.server.url}/campaigns/new`);
    await owner.waitForLoadState('networkidle');
    await owner.getByLabel('Name', { exact: true }).fill('Jira access by the Atlassian admins');
    await owner.getByLabel('Scope (a query over grants)').fill('app:Jira');
    await owner.getByText(/\d+ grants in scope/).waitFor();
    await owner.locator('select[name="draft[reviewer_rule]"]').selectOption('group');
    await owner.locator('select[name="draft[reviewer_group]"]').selectOption('Atlassian admins');
    await owner.getByLabel(/^Fallback reviewer/).fill('demo.campaign.owner@example.com');
    await owner.getByLabel('Deadline', { exact: true }).fill(inDays(14));
    await owner.getByRole('button', { name: 'Save draft' }).click();
    await owner.waitForURL(/\/campaigns\/\d+$/);
    await owner.getByTestId('reviewer-group').filter({ hasText: 'Atlassian admins' }).waitFor();
    await owner.getByRole('button', { name: /^Launch/ }).click();
    await owner.getByTestId('campaign-status').filter({ hasText: 'Active, stage 1 of 1' }).waitFor();
  });

  await screenshotOnFailure(reviewer, 'groups-reviewer', async () => {
    await reviewer.goto(`${shared.server.url}/reviews?q=Jira`);
    await reviewer.waitForLoadState('networkidle');
    const rows = reviewer.locator('table.reviews tr.item').filter({ hasText: 'group Atlassian admins' });
    await rows.first().waitFor();
    const progress = reviewer.getByTestId('review-progress');
    const decidedBefore = Number((await progress.innerText()).match(/^(\d+) decided/)[1]);
    const first = rows.first();
    await first.locator('input.justification').fill('administers the release project');
    await first.getByRole('button', { name: 'Approve' }).click();
    await progress.filter({ hasText: `${decidedBefore + 1} decided` }).waitFor();
    await reviewer.goto(`${shared.server.url}/reviews?q=Jira&decided=1`);
    await reviewer.getByText('approve by Demo Reviewer').first().waitFor();
  });
  await owner.context().close();
  await reviewer.context().close();
  assert.ok(true);
});
