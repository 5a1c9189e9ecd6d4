import { expect, test } from './fixtures';
import { createConnector, freshTenant, ready, signIn } from './helpers';

const fakes = `http://127.0.0.1:${process.env.FAKE_PORT ?? '9105'}`;

test('the Webhooks page: add an endpoint (its secret shown once), see deliveries, replay, rotate, turn off, delete', async ({ page, request }, info) => {
  const token = await signIn(page, freshTenant(info));
  await page.goto('/webhooks');
  await ready(page, info);
  await expect(page.getByText('No endpoints yet.')).toBeVisible();

  await page.getByLabel('Endpoint URL').fill(`${fakes}/hooks/e2e`);
  await page.getByRole('checkbox', { name: 'connector.created' }).check();
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  const secret = page.getByTestId('secret');
  await expect(secret).toHaveText(/^whsec_[A-Za-z0-9+/=]{40,}$/);
  const shown = await secret.textContent();
  await page.getByRole('link', { name: 'Back to webhooks' }).click();
  await ready(page, info);
  const endpoint = page.getByTestId('endpoint');
  await expect(endpoint).toContainText(`${fakes}/hooks/e2e`);
  await expect(endpoint).toContainText('connector.created');
  expect(await page.content()).not.toContain(shown ?? 'never');

  // A change sends an event; the page shows it delivered.
  await createConnector(request, token, { connector_type: 'stripe', config: { api_key: 'sk_test_good_4242' } });
  const delivery = page.getByTestId('delivery');
  for (let i = 0; i < 40 && !(await delivery.allTextContents()).join(' ').includes('succeeded'); i++) {
    await page.waitForTimeout(250);
    await page.reload();
  }
  await expect(delivery.first()).toContainText('succeeded');
  await expect(delivery.first()).toContainText('204');

  await delivery.first().getByRole('button', { name: 'Replay' }).click();
  await expect(page.getByRole('status')).toContainText('on its way again');

  await page.getByRole('button', { name: 'Rotate secret' }).click();
  await expect(page.getByTestId('secret')).not.toHaveText(shown ?? '');
  await page.getByRole('link', { name: 'Back to webhooks' }).click();
  await expect(page.getByTestId('endpoint')).toContainText('The previous secret also signs until');

  await page.getByRole('button', { name: 'Turn off' }).click();
  await expect(page.getByRole('status')).toContainText('turned off');
  await expect(page.getByTestId('endpoint')).toContainText('Off');
  await page.getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByText('No endpoints yet.')).toBeVisible();
});
