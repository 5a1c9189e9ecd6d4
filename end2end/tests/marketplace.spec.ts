import { expect, test } from './fixtures';
import { createConnector, freshTenant, hydrated, ready, signIn } from './helpers';

const ALL = ['Google Drive', 'Xero', 'Sage Business Cloud Accounting', 'Shopify', 'Square', 'QuickBooks Online',
  'WooCommerce', 'Stripe', 'HubSpot', 'REST API', 'PostgreSQL', 'MCP server'];

test('the marketplace lists all twelve connectors', async ({ page }, info) => {
  await page.goto('/');
  await ready(page, info);
  const cards = page.getByTestId('connector-cards').locator('li[data-connector]');
  await expect(cards).toHaveCount(12);
  for (const name of ALL) {
    await expect(page.getByRole('heading', { name, exact: true })).toBeVisible();
  }
  await expect(page.locator('li[data-connector="stripe"]').getByTestId('auth-kind')).toHaveText('API key');
  await expect(page.locator('li[data-connector="xero"]').getByTestId('auth-kind')).toHaveText('OAuth2');
  await expect(page.getByTestId('result-count')).toHaveText('Showing 12 of 12 connectors');
});

test('search and filters narrow the list and live in the URL', async ({ page }, info) => {
  await page.goto('/');
  await ready(page, info);
  const cards = page.getByTestId('connector-cards').locator('li[data-connector]');
  const search = page.getByRole('searchbox', { name: 'Search' });
  await search.fill('finance');
  if (!hydrated(info)) await page.getByRole('button', { name: 'Apply' }).click();
  // Finance: Xero, QuickBooks, Sage, Stripe.
  await expect(cards).toHaveCount(4);
  await expect(page).toHaveURL(/[?&]q=finance/);

  await page.goto('/?category=E-commerce');
  await ready(page, info);
  await expect(cards).toHaveCount(2);
  await expect(page.getByRole('heading', { name: 'Shopify' })).toBeVisible();

  await page.goto('/?region=UK&category=Finance');
  await ready(page, info);
  await expect(cards).toHaveCount(3); // Xero, QuickBooks, Sage

  await page.goto('/');
  await ready(page, info);
  await page.getByLabel('Region').selectOption('US');
  if (!hydrated(info)) await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/region=US/);
  await expect(cards).toHaveCount(3); // Square, QuickBooks, HubSpot

  await page.goto('/?q=zzzz-nothing');
  await expect(page.getByText('No connector matches these filters.')).toBeVisible();
});

test('connectors the tenant already has are marked', async ({ page, request }, info) => {
  const token = await signIn(page, freshTenant(info));
  await createConnector(request, token, { connector_type: 'stripe', config: { api_key: 'sk_test_good_4242' } });
  await page.goto('/');
  await ready(page, info);
  await expect(page.locator('li[data-connector="stripe"]').getByTestId('already-connected')).toHaveText('Connected');
  await expect(page.locator('li[data-connector="xero"]').getByTestId('already-connected')).toHaveCount(0);
});
