import { expect, test } from './fixtures';
import { createConnector, freshTenant, ready, signIn } from './helpers';

test('the API page lists every operation and tries one as the signed-in user', async ({ page, request }, info) => {
  const token = await signIn(page, freshTenant(info));
  const id = await createConnector(request, token, { connector_type: 'stripe', display_name: 'Payments', config: { api_key: 'sk_test_good_4242' } });
  // The header's link leads there (a page of the server's own, so a full page load).
  await page.goto('/sources');
  await ready(page, info);
  await page.getByRole('link', { name: 'API', exact: true }).click();
  await page.waitForURL('**/api');
  const operations = page.getByTestId('api-operation');
  const operation = (name: RegExp) => operations.filter({ has: page.getByRole('heading', { name }) });
  await expect(operation(/^GET\s*\/v1\/connectors\/\{id\}$/)).toHaveCount(1);
  await expect(operation(/^PATCH\s*\/v1\/connectors\/\{id\}$/)).toHaveCount(1);
  // The data endpoints are there too.
  await expect(operation(/^GET\s*\/v1\/connectors\/\{id\}\/records$/)).toHaveCount(1);
  await expect(operation(/^POST\s*\/v1\/connectors\/\{id\}\/sync$/)).toHaveCount(1);
  const listing = operations.filter({ has: page.getByRole('heading', { name: /^GET\s*\/v1\/connectors$/ }) });
  // A read is also a plain link the session cookie signs.
  await expect(listing.getByRole('link', { name: 'Open the answer' })).toHaveAttribute('href', '/v1/connectors');
  // Trying a call is a plain form, with or without JavaScript: the answer opens in a new tab.
  await listing.getByText('Try it').click();
  const [listed] = await Promise.all([page.waitForEvent('popup'), listing.getByRole('button', { name: 'Send' }).click()]);
  await expect(listed.getByTestId('api-answer')).toContainText('Answered 200');
  await expect(listed.getByTestId('api-answer')).toContainText(id);
  // A change goes through the same API, as the same user, and is audited as theirs; what a tenant
  // typed is shown as text, never as markup.
  const rename = operations.filter({ has: page.getByRole('heading', { name: /^PATCH\s*\/v1\/connectors\/\{id\}$/ }) });
  await rename.getByText('Try it').click();
  await rename.getByLabel('Path').fill(`/v1/connectors/${id}`);
  await rename.getByLabel('JSON body').fill('{"display_name": "<b>Renamed</b> from the API page"}');
  const [renamed] = await Promise.all([page.waitForEvent('popup'), rename.getByRole('button', { name: 'Send' }).click()]);
  await expect(renamed.getByTestId('api-answer')).toContainText('<b>Renamed</b> from the API page');
  await expect(renamed.locator('b')).toHaveCount(0);
  const audit = await request.get(`/v1/audit?connector_id=${id}&action=update`, { headers: { authorization: `Bearer ${token}` } });
  expect((await audit.json()).entries[0].user_id).toBe('ana@acme.test');
});
