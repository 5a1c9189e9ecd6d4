import { expect, test, type Page, type TestInfo } from './fixtures';
import { createConnector, freshTenant, hydrated, ready, signIn } from './helpers';

/** Waits for the latest run to end: followed live when hydrated, by reloading without JavaScript. */
async function waitForRun(page: Page, info: TestInfo, status: string) {
  const line = page.getByTestId('run-status');
  if (hydrated(info)) {
    await expect(line).toHaveAttribute('data-status', status, { timeout: 20_000 });
    return;
  }
  for (let i = 0; i < 40; i++) {
    if ((await line.getAttribute('data-status')) === status) return;
    await page.waitForTimeout(250);
    await page.reload();
  }
  await expect(line).toHaveAttribute('data-status', status);
}

test("a connector's data page: Sync now, streams, records a page at a time, run history, preview", async ({ page, request }, info) => {
  const token = await signIn(page, freshTenant(info));
  await createConnector(request, token, { connector_type: 'stripe', display_name: 'Payments', config: { api_key: 'sk_test_good_4242' }, sync_frequency: 'manual' });
  await page.goto('/sources');
  await ready(page, info);
  await page.getByTestId('data').click();
  await page.waitForURL('**/data');
  await ready(page, info);
  await expect(page.getByRole('heading', { name: 'Payments' })).toBeVisible();
  await expect(page.getByTestId('run-status')).toContainText('Not synced yet.');
  await expect(page.getByTestId('last-sync')).toHaveText('never');

  await page.getByTestId('sync-now').click();
  await waitForRun(page, info, 'succeeded');
  await expect(page.getByTestId('run-status')).toContainText('275 added');
  const customers = page.getByTestId('streams').locator('[data-stream="customers"]');
  await expect(customers.getByTestId('record-count')).toHaveText('240');
  await expect(page.getByTestId('last-sync')).not.toHaveText('never');

  // Records, 25 a page, in the order they were stored.
  const rows = page.getByTestId('records').locator('tbody tr');
  await expect(rows).toHaveCount(25);
  await expect(rows.first()).toHaveAttribute('data-record-id', 'cus_000001');
  await page.getByTestId('next-page').click();
  await expect(page.getByTestId('records').locator('tbody tr').first()).toHaveAttribute('data-record-id', 'cus_000026');
  await expect(page.getByTestId('runs').locator('tbody tr')).toHaveCount(1);
  await expect(page.getByTestId('runs')).toContainText('Sync now');

  // The live preview, on request.
  await page.getByTestId('show-preview').click();
  await expect(page.getByTestId('preview-records')).toContainText('cus_000001');

  // Where Stripe sends its webhooks, how to register it, and its signing secret saved (never shown back).
  const hooks = page.getByTestId('provider-webhooks');
  await expect(hooks.getByTestId('webhook-url')).toContainText('/webhooks/');
  await expect(hooks).toContainText('Developers → Webhooks');
  await hooks.getByLabel('Signing secret from the provider').fill('whsec_e2eSigningSecret123456');
  await hooks.getByRole('button', { name: 'Save signing secret' }).click();
  await expect(page.getByTestId('provider-webhooks').getByRole('status')).toContainText('Saved.');
  expect(await page.content()).not.toContain('whsec_e2eSigningSecret123456');

  // The sources page shows the real last-sync time.
  await page.goto('/sources');
  await expect(page.locator('li[data-connector-id]').getByText('Last sync').locator('..')).not.toContainText('Never');
});

test('Google Drive: the hub registers its push channel and says until when it is open', async ({ page, request }, info) => {
  const token = await signIn(page, freshTenant(info));
  const id = await createConnector(request, token, { connector_type: 'google_drive', display_name: 'Drive', config: { access_token: 'ya29.good-token' }, sync_frequency: 'manual' });
  await page.goto(`/sources/${id}/data`);
  await ready(page, info);
  const hooks = page.getByTestId('provider-webhooks');
  await expect(hooks.getByTestId('channel-until')).toHaveCount(0);
  await hooks.getByRole('button', { name: 'Register with the provider' }).click();
  await expect(page.getByTestId('provider-webhooks').getByRole('status')).toContainText('Registered.');
  await expect(page.getByTestId('channel-until')).toContainText('Push channel open until');
});
