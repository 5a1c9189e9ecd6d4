import { expect, test, type Locator } from './fixtures';
import { createConnector, freshTenant, hydrated, ready, signIn } from './helpers';

/** Opens a row's disclosure (rename or delete); with JavaScript the list may re-render under us. */
async function disclose(row: Locator, summary: string) {
  const details = row.locator('details').filter({ hasText: summary });
  await expect(async () => {
    if ((await details.getAttribute('open')) === null) await details.locator('summary').click();
    await expect(details.getByRole('button')).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 10_000 });
}

test('list, re-test, rename and delete connected sources', async ({ page, request }, info) => {
  const token = await signIn(page, freshTenant(info));
  const good = await createConnector(request, token, { connector_type: 'stripe', display_name: 'Payments', config: { api_key: 'sk_test_good_4242' } });
  const bad = await createConnector(request, token, { connector_type: 'stripe', display_name: 'Old key', config: { api_key: 'sk_test_expired_4242' } });
  await page.goto('/sources');
  await ready(page, info);
  const row = (id: string) => page.locator(`li[data-connector-id="${id}"]`);
  await expect(row(good).locator('[data-status]')).toHaveText('Not tested');
  await expect(row(good)).toContainText('Never');

  await row(good).getByRole('button', { name: 'Test now' }).click();
  await expect(row(good).locator('[data-status]')).toHaveText('Connected');
  await expect(row(good).locator('time').first()).toHaveAttribute('title', /UTC$/);

  await row(bad).getByRole('button', { name: 'Test now' }).click();
  await expect(row(bad).locator('[data-status]')).toHaveText('Error');
  await expect(row(bad).getByTestId('source-error')).toContainText('EXPIRED_CREDENTIALS');
  await expect(row(bad).getByTestId('source-error')).toContainText('expired');

  await page.goto('/sources?status=error');
  await ready(page, info);
  await expect(page.locator('li[data-connector-id]')).toHaveCount(1);
  await page.goto('/sources');
  await ready(page, info);

  await disclose(row(good), 'Rename or schedule');
  await row(good).getByLabel('Name').fill('Payments (UK)');
  await row(good).getByLabel('Sync').selectOption('weekly');
  await row(good).getByRole('button', { name: 'Save' }).click();
  await expect(row(good).getByRole('heading')).toHaveText('Payments (UK)');
  await expect(row(good)).toContainText('Every week');

  await disclose(row(bad), 'Delete…');
  await expect(row(bad)).toContainText('Delete “Old key”? Its stored credentials are destroyed');
  await row(bad).getByRole('button', { name: 'Delete “Old key”' }).click();
  await expect(row(bad)).toHaveCount(0);
  await disclose(row(good), 'Delete…');
  await row(good).getByRole('button', { name: 'Delete “Payments (UK)”' }).click();
  await expect(page.getByTestId('empty-sources')).toBeVisible();
  await expect(page.getByRole('link', { name: 'Browse the marketplace' })).toBeVisible();
});

test('the last list is shown, marked stale, when the server cannot be reached', async ({ page, request }, info) => {
  test.skip(!hydrated(info), 'the offline copy lives in localStorage, which needs JavaScript');
  const token = await signIn(page, freshTenant(info));
  await createConnector(request, token, { connector_type: 'stripe', display_name: 'Cached Stripe', config: { api_key: 'sk_test_good_4242' } });
  await page.goto('/sources');
  await ready(page, info);
  await expect(page.getByRole('heading', { name: 'Cached Stripe' })).toBeVisible();
  const cached = await page.evaluate(() => localStorage.getItem('connector-hub:sources') ?? '');
  expect(cached).toContain('Cached Stripe');
  expect(cached).not.toContain('sk_test');

  await page.goto('/');
  await ready(page, info);
  await page.route('**/api/list_sources**', (route) => route.abort('connectionrefused'));
  await page.getByRole('link', { name: 'Connected sources' }).click();
  await expect(page.getByTestId('stale-notice')).toBeVisible();
  await expect(page.getByTestId('source-list')).toHaveAttribute('data-stale', 'true');
  await expect(page.getByRole('heading', { name: 'Cached Stripe' })).toBeVisible();
});

test('replacing credentials reuses the wizard and keeps the connector', async ({ page, request }, info) => {
  const token = await signIn(page, freshTenant(info));
  const id = await createConnector(request, token, { connector_type: 'stripe', display_name: 'Rotated key', config: { api_key: 'sk_test_expired_4242' } });
  await page.goto('/sources');
  await ready(page, info);
  await page.locator(`li[data-connector-id="${id}"]`).getByRole('link', { name: 'Replace credentials' }).click();
  await expect(page.getByRole('heading', { name: 'Replace Stripe credentials' })).toBeVisible();
  await ready(page, info);
  for (const step of ["Let's start", 'I have it ready']) {
    const before = page.url();
    await page.getByRole('button', { name: step, exact: true }).click();
    await page.waitForURL((u) => u.toString() !== before);
  }
  await expect(page.locator('[name="value"]')).toHaveAttribute('placeholder', 'Leave empty to keep what you entered');
  await page.locator('[name="value"]').fill('sk_test_good_5555');
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue('Rotated key');
  await page.getByRole('button', { name: 'Test and save', exact: true }).click();
  await expect(page.getByTestId('wizard-done')).toContainText("You're connected");
  await page.goto('/sources');
  await expect(page.locator('li[data-connector-id]')).toHaveCount(1);
  await expect(page.locator(`li[data-connector-id="${id}"] [data-status]`)).toHaveText('Connected');
});
