import { expect, test } from './fixtures';
import { createConnector, freshTenant, hydrated, ready, signIn } from './helpers';

// Screenshots of the pages at desktop and phone width. A test run writes them under test-results/
// (outside the tracked tree); `make screenshots` sets SCREENSHOTS_DIR to refresh the README's.
const dir = process.env.SCREENSHOTS_DIR ?? 'test-results/screenshots';
for (const [label, viewport] of [['desktop', { width: 1280, height: 900 }], ['phone', { width: 390, height: 844 }]] as const) {
  test(`screenshots (${label})`, async ({ page, request }, info) => {
    test.skip(!hydrated(info), 'taken once, hydrated');
    await page.setViewportSize(viewport);
    const token = await signIn(page, freshTenant(info));
    const payments = await createConnector(request, token, { connector_type: 'stripe', display_name: 'Payments', config: { api_key: 'sk_test_good_4242' } });
    const id = await createConnector(request, token, { connector_type: 'xero', display_name: 'Xero (UK)', config: { access_token: 'tok_expired_123456' } });
    await request.post(`/v1/connectors/${id}/test`, { headers: { authorization: `Bearer ${token}` } });
    await page.goto('/');
    await ready(page, info);
    await page.screenshot({ path: `${dir}/marketplace-${label}.png`, fullPage: true });
    await page.goto('/connect/stripe');
    await ready(page, info);
    await page.getByRole('button', { name: "Let's start" }).click();
    await page.getByRole('button', { name: 'I have it ready' }).click();
    await expect(page.locator('[name="value"]')).toBeVisible();
    await page.screenshot({ path: `${dir}/wizard-${label}.png`, fullPage: true });
    // Signing in with Xero, at the organisation choice.
    await page.goto('/connect/xero');
    await ready(page, info);
    await page.getByRole('button', { name: "Let's start" }).click();
    await page.getByRole('button', { name: 'Connect with Xero' }).click();
    await page.getByTestId('oauth-continue').click();
    await page.getByRole('button', { name: 'Allow access' }).click();
    await page.waitForURL(/\/connect\/xero\?draft=/);
    await ready(page, info);
    await expect(page.getByText('Which organisation should we connect?')).toBeVisible();
    await page.screenshot({ path: `${dir}/oauth-${label}.png`, fullPage: true });
    await page.goto('/sources');
    await ready(page, info);
    await expect(page.getByRole('heading', { name: 'Xero (UK)' })).toBeVisible();
    await page.screenshot({ path: `${dir}/sources-${label}.png`, fullPage: true });
    // A connector's data after a sync.
    const auth = { authorization: `Bearer ${token}` };
    const run = (await (await request.post(`/v1/connectors/${payments}/sync`, { headers: auth })).json()).run_id;
    await expect.poll(async () => (await (await request.get(`/v1/connectors/${payments}/syncs/${run}`, { headers: auth })).json()).status).toBe('succeeded');
    await page.goto(`/sources/${payments}/data`);
    await ready(page, info);
    await expect(page.getByTestId('records')).toBeVisible();
    await page.screenshot({ path: `${dir}/data-${label}.png`, fullPage: true });
  });
}
