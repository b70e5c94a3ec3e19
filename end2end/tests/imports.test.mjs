import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoServerAndBrowser, screenshotOnFailure, signInAs } from './harness.mjs';

const samples = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'server', 'tests', 'fixtures', 'samples');

const shared = demoServerAndBrowser();

test('an admin uploads an Entra export on the Imports page and its people appear in the inventory', async () => {
  const admin = await signInAs(shared.browser, shared.server.url, 'Admin');
  await screenshotOnFailure(admin, 'imports-upload', async () => {
    await admin.getByRole('link', { name: 'Imports' }).click();
    await admin.waitForURL(/\/admin\/imports$/);
    await admin.getByLabel('Format').selectOption('entra');
    await admin.getByLabel('Source').fill('contoso');
    await admin.getByLabel('Files').setInputFiles([
      join(samples, 'entra', 'graph-docs_v1.0_user-list_ex11_signInActivity.json'),
      join(samples, 'entra', 'graph-docs_v1.0_serviceprincipal-list.json'),
    ]);
    await admin.getByRole('button', { name: 'Import' }).click();
    await admin.getByTestId('import-done').waitFor();
    assert.match(await admin.getByTestId('import-done').innerText(), /source `contoso`:\s+identities: \d+ added/);
    await admin.getByTestId('import-run').filter({ hasText: 'contoso' }).first().waitFor();

    // A file of the wrong kind is refused with what was expected, and nothing changes.
    await admin.getByLabel('Format').selectOption('scim');
    await admin.getByLabel('Source').fill('contoso');
    await admin.getByLabel('Files').setInputFiles(join(samples, 'entra', 'graph-docs_v1.0_serviceprincipal-list.json'));
    await admin.getByRole('button', { name: 'Import' }).click();
    await admin.getByTestId('import-refused').waitFor();
    assert.match(await admin.getByTestId('import-refused').innerText(), /graph-docs_v1\.0_serviceprincipal-list\.json/);

    await admin.goto(`${shared.server.url}/identities?q=Adele`);
    await admin.getByRole('link', { name: 'Adele Vance' }).first().waitFor();
  });
  await admin.context().close();
});
