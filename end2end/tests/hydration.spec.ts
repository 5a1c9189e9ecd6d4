// Every page of the app loads, and with JavaScript hydrates without a panic; the fixture in
// fixtures.ts fails a test whose page panicked or did not hydrate. `make test` runs this file a
// second time against the release build (HUB_BUILD=release), which is what operators deploy:
// a release whose server and bundle were built differently never hydrated (issue #31).
import { expect, test } from './fixtures';
import { createConnector, freshTenant, hydrated, ready, signIn } from './helpers';

test('every page renders, and hydrates when scripts run', async ({ page, request }, info) => {
  const token = await signIn(page, freshTenant(info));
  const id = await createConnector(request, token, {
    connector_type: 'stripe',
    display_name: 'Smoke payments',
    config: { api_key: 'sk_test_good_4242' },
    sync_frequency: 'manual',
  });
  const pages: [string, string][] = [
    ['/', 'Connect your data'],
    ['/sources', 'Smoke payments'],
    [`/sources/${id}/data`, 'Smoke payments'],
    ['/connect/stripe', 'Stripe'],
    ['/connect/postgresql', 'PostgreSQL'],
    ['/connect/xero', 'Xero'],
    ['/audit', 'Audit log'],
    ['/webhooks', 'Webhooks'],
    ['/no-such-page', 'does not exist'],
  ];
  for (const [path, text] of pages) {
    await page.goto(path);
    await expect(page.locator('main'), path).toContainText(new RegExp(text, 'i'));
    await ready(page, info);
  }
});

test('what needs the bundle works: live search and a sync followed live', async ({ page, request }, info) => {
  test.skip(!hydrated(info), 'needs JavaScript');
  const token = await signIn(page, freshTenant(info));
  await page.goto('/');
  await ready(page, info);
  // Filtered as typed, without the Apply button a page without JavaScript needs.
  await page.getByRole('searchbox', { name: 'Search' }).fill('finance');
  await expect(page.getByTestId('connector-cards').locator('li[data-connector]')).toHaveCount(4);

  const id = await createConnector(request, token, {
    connector_type: 'stripe',
    config: { api_key: 'sk_test_good_4242' },
    sync_frequency: 'manual',
  });
  await page.goto(`/sources/${id}/data`);
  await ready(page, info);
  await page.getByTestId('sync-now').click();
  // Followed on the page as it runs, with no reload.
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'succeeded', { timeout: 20_000 });
  await expect(page.getByTestId('run-status')).toContainText('275 added');
});
