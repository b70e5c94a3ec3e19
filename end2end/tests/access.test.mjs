import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, launchBrowser, screenshotOnFailure, startProvider, startServer } from './harness.mjs';

// attest with a real OpenID provider (npm oidc-provider) and no demo sign-in.
let provider;
let server;
let browser;

before(async () => {
  const port = await freePort();
  provider = await startProvider(`http://127.0.0.1:${port}/auth/callback`);
  server = await startServer({
    demo: false,
    port,
    env: {
      ATTEST_OIDC_ISSUER: provider.issuer,
      ATTEST_OIDC_CLIENT_ID: 'attest',
      ATTEST_OIDC_CLIENT_SECRET: 'attest-secret',
      ATTEST_PUBLIC_URL: `http://127.0.0.1:${port}`,
      ATTEST_OIDC_SCOPES: 'openid email profile groups',
    },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await provider?.stop();
});

/** Signs in at the provider's own form, as a person would, and lands back in attest. */
async function signInAtProvider(page, login) {
  await page.goto(`${server.url}/identities`);
  await page.waitForURL(/\/sign-in$/);
  assert.equal(await page.getByRole('button', { name: /demo/ }).count(), 0, 'no demo sign-in without --demo');
  await page.getByRole('link', { name: 'Sign in with your identity provider' }).click();
  await page.getByLabel('Username').fill(login);
  await page.getByLabel('Password').fill('secret');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${server.url}/`);
}

test('a reviewer signs in at the identity provider, an admin grants her the auditor role, and she can then read the estate', async () => {
  const ada = await (await browser.newContext()).newPage();
  const alice = await (await browser.newContext()).newPage();
  await screenshotOnFailure(ada, 'oidc-roles', async () => {
    await signInAtProvider(ada, 'ada');
    await ada.getByText('Ada Okafor').first().waitFor();
    await ada.goto(`${server.url}/identities`);
    await ada.getByRole('heading', { name: 'Not allowed' }).waitFor();

    await signInAtProvider(alice, 'alice');
    await alice.getByRole('link', { name: 'People', exact: true }).click();
    await alice.waitForURL(/\/admin\/people$/);
    const row = alice.locator('tr[data-person="ada@example.com"]');
    await row.getByText('Reviewer (IdP)').waitFor();
    await row.getByRole('button', { name: 'Grant Auditor' }).click();
    await row.getByRole('button', { name: 'Withdraw Auditor' }).waitFor();
    const history = alice.locator('table.history tbody tr').filter({ hasText: 'Auditor granted (in attest)' });
    await history.getByText('Alice Admin').waitFor();

    await ada.goto(`${server.url}/identities`);
    await ada.getByRole('heading', { name: 'Identities' }).waitFor();

    await ada.getByRole('button', { name: 'Sign out' }).click();
    await ada.waitForURL(/\/sign-in$/);
    await ada.goto(`${server.url}/identities`);
    await ada.waitForURL(/\/sign-in$/);
  });
  await ada.context().close();
  await alice.context().close();
});

test('an admin creates an API token that is shown once and then only by its prefix', async () => {
  const page = await (await browser.newContext()).newPage();
  await screenshotOnFailure(page, 'api-token', async () => {
    await signInAtProvider(page, 'alice');
    await page.getByRole('link', { name: 'Tokens', exact: true }).click();
    await page.waitForURL(/\/admin\/tokens$/);
    await page.getByLabel('Name').fill('nightly AWS import');
    await page.getByLabel('import').check();
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = (await page.getByTestId('new-token').innerText()).trim();
    assert.match(secret, /^attest_\S{40,}$/);

    const res = await fetch(`${server.url}/api/v1/grants`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(res.status, 403, 'an import token cannot read grants');

    await page.reload();
    await page.locator('table.tokens').getByText('nightly AWS import').waitFor();
    assert.equal(await page.getByText(secret).count(), 0, 'the secret is never shown again');
  });
  await page.context().close();
});
