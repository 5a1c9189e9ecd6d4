import { expect, test, type Page } from './fixtures';
import { freshTenant, next, ready, signIn } from './helpers';

async function answer(page: Page, value: string) {
  const input = page.locator('[name="value"]');
  if ((await input.evaluate((el) => el.tagName)) === 'SELECT') await input.selectOption(value);
  else await input.fill(value);
  await next(page, 'Continue');
}

test('Stripe: a bad key leads back to the key field; the good key connects', async ({ page }, info) => {
  await signIn(page, freshTenant(info));
  await page.goto('/connect/stripe');
  await ready(page, info);
  await expect(page.getByRole('heading', { name: 'Connect Stripe' })).toBeVisible();
  await expect(page.getByText('You will need: Secret or restricted key.')).toBeVisible();
  await next(page, "Let's start");
  await expect(page.getByText('Stripe uses secret API keys.')).toBeVisible();
  await expect(page.getByRole('link', { name: /Where do I find it/ })).toHaveAttribute('href', /stripe\.com/);
  await next(page, 'I have it ready');

  // A publishable key is refused at once, before any network call.
  await answer(page, 'pk_test_123456');
  await expect(page.getByTestId('step-error')).toContainText('not in the expected format');
  await expect(page.getByTestId('step-error')).toContainText('INVALID_CONFIG');

  // Secret input is masked, with a show/hide toggle when JavaScript runs.
  await expect(page.locator('[name="value"]')).toHaveAttribute('type', 'password');
  await answer(page, 'sk_test_wrong_4242');
  await expect(page.getByText('What is your secret or restricted key?')).toBeVisible();
  await expect(page.getByText('•••••••• (hidden)')).toBeVisible();
  await page.getByLabel('Name', { exact: true }).fill('Main Stripe');
  await next(page, 'Test and save');

  // The provider refuses the key: back at the key field, with the message and hint.
  await expect(page.getByTestId('step-error')).toContainText('Stripe did not accept this credential.');
  await expect(page.getByTestId('step-error')).toContainText('INVALID_CREDENTIALS');
  await expect(page.getByLabel('Secret or restricted key')).toBeVisible();
  await answer(page, 'sk_test_good_4242');
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue('Main Stripe'); // kept
  await next(page, 'Test and save');
  await expect(page.getByTestId('wizard-done')).toContainText("You're connected");
  await expect(page.getByTestId('wizard-done')).toContainText('“Main Stripe” is saved');
  await expect(page.getByTestId('wizard-done')).toContainText('test');
  // Data on screen before leaving: the streams Stripe offers and its first customers.
  await expect(page.getByTestId('preview')).toContainText('Streams: customers, charges, invoices');
  await expect(page.getByTestId('preview-records')).toHaveAttribute('data-stream', 'customers');
  await expect(page.getByTestId('preview-records')).toContainText('cus_000001');
  await expect(page.getByTestId('preview-records').locator('tbody tr')).toHaveCount(10);
  await page.getByRole('link', { name: 'See connected sources' }).click();
  await expect(page.getByRole('heading', { name: 'Main Stripe' })).toBeVisible();
});

test('a failure without a field to blame offers retry and save anyway', async ({ page }, info) => {
  await signIn(page, freshTenant(info));
  await page.goto('/connect/stripe');
  await ready(page, info);
  await next(page, "Let's start");
  await next(page, 'I have it ready');
  await answer(page, 'sk_test_ratelimit_4242');
  await next(page, 'Test and save');
  await expect(page.getByRole('alert').filter({ hasText: 'limiting requests' })).toBeVisible();
  await next(page, 'Retry the test');
  await expect(page.getByRole('alert').filter({ hasText: 'limiting requests' })).toBeVisible();
  await next(page, 'Save anyway');
  await expect(page.getByTestId('wizard-done')).toContainText('Saved without a successful test');
});

test('going back and changing an earlier answer keeps the others', async ({ page }, info) => {
  await signIn(page, freshTenant(info));
  await page.goto('/connect/shopify');
  await ready(page, info);
  await next(page, "Let's start");
  await next(page, 'Paste a token instead');
  await answer(page, 'acme-goods.myshopify.com');
  await answer(page, 'shpat_good12345');
  await next(page, 'Change shop domain');
  await expect(page.locator('[name="value"]')).toHaveValue('acme-goods.myshopify.com');
  await answer(page, 'acme-outlet.myshopify.com');
  // The token is still there: straight on to the name, the token kept.
  await expect(page.getByRole('button', { name: 'Test and save' })).toBeVisible();
  await expect(page.getByText('•••••••• (hidden)')).toBeVisible();
  await next(page, 'Change admin api access token');
  await expect(page.locator('[name="value"]')).toHaveAttribute('placeholder', 'Leave empty to keep what you entered');
  await answer(page, ''); // a secret left empty keeps the earlier answer
  await next(page, 'Test and save');
  await expect(page.getByTestId('wizard-done')).toContainText('Acme Goods');
});

test('PostgreSQL against the real server', async ({ page }, info) => {
  const { TEST_PG_PORT, TEST_PG_USER, TEST_PG_PASSWORD, TEST_PG_DATABASE } = process.env;
  test.skip(!TEST_PG_PORT && !process.env.CONNECTOR_HUB_REQUIRE_PG, 'no PostgreSQL (run through make test)');
  await signIn(page, freshTenant(info));
  await page.goto('/connect/postgresql');
  await ready(page, info);
  await next(page, "Let's start");
  await next(page, 'I have it ready');
  await answer(page, '127.0.0.1');
  await answer(page, TEST_PG_PORT!);
  await answer(page, TEST_PG_DATABASE!);
  await answer(page, TEST_PG_USER!);
  await answer(page, 'definitely-wrong');
  await answer(page, 'disable');
  await next(page, 'Test and save');
  await expect(page.getByTestId('step-error')).toContainText('INVALID_CREDENTIALS');
  await answer(page, TEST_PG_PASSWORD!);
  await next(page, 'Test and save');
  await expect(page.getByTestId('wizard-done')).toContainText("You're connected");
  await expect(page.getByTestId('wizard-done')).toContainText('server version');
  // The tables found, and the first rows of one.
  await expect(page.getByTestId('preview')).toContainText('public.shop_orders');
  await expect(page.getByTestId('preview-records')).toContainText('Customer 1');

  // The table choice, on the connector's data page: changes by updated_at.
  await page.getByTestId('see-data').click();
  await page.waitForURL('**/data');
  await ready(page, info);
  const choice = page.getByTestId('table-choice');
  await choice.getByLabel('How to sync public.shop_orders').selectOption('public.shop_orders:updated_at');
  await choice.getByRole('button', { name: 'Save tables' }).click();
  await expect(page.getByTestId('table-choice')).toContainText('Saved. The next sync reads these tables.');
  await expect(page.getByTestId('table-choice').getByLabel('How to sync public.shop_orders')).toHaveValue('public.shop_orders:updated_at');
});

test('a secret typed in the wizard never appears in any page', async ({ page }, info) => {
  const canary = `sk_test_good_CANARY${Date.now()}`;
  await signIn(page, freshTenant(info));
  await page.goto('/connect/stripe');
  await ready(page, info);
  await next(page, "Let's start");
  await next(page, 'I have it ready');
  await answer(page, canary);
  const seen: string[] = [];
  seen.push(await page.content());
  await next(page, 'Test and save');
  await expect(page.getByTestId('wizard-done')).toBeVisible();
  seen.push(await page.content());
  for (const path of ['/', '/sources', page.url()]) {
    const response = await page.request.get(path);
    seen.push(await response.text());
    await page.goto(path);
    seen.push(await page.content());
  }
  for (const html of seen) expect(html).not.toContain('CANARY');
});
