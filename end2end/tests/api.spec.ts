import { expect, test } from '@playwright/test';
import { createConnector, freshTenant, hydrated, ready, signIn } from './helpers';

test('the API page lists every operation and tries one as the signed-in user', async ({ page, request }, info) => {
  const token = await signIn(page, freshTenant(info));
  const id = await createConnector(request, token, { connector_type: 'stripe', display_name: 'Payments', config: { api_key: 'sk_test_good_4242' } });
  await page.goto('/api');
  await ready(page, info);
  const operations = page.getByTestId('api-operation');
  await expect(operations.filter({ hasText: 'GET/v1/connectors/{id}' })).toHaveCount(1);
  await expect(operations.filter({ hasText: 'PATCH/v1/connectors/{id}' })).toHaveCount(1);
  const listing = operations.filter({ has: page.getByRole('heading', { name: /^GET\s*\/v1\/connectors$/ }) });
  if (!hydrated(info)) {
    // Without JavaScript, a read is a link the session cookie signs.
    await listing.getByRole('link', { name: 'Open the answer' }).click();
    await expect(page.locator('body')).toContainText(id);
    return;
  }
  await listing.getByText('Try it').click();
  await listing.getByRole('button', { name: 'Send' }).click();
  const answer = listing.getByTestId('api-answer');
  await expect(answer).toContainText('Answered 200');
  await expect(answer).toContainText(id);
  // A change goes through the same API, as the same user, and is audited as theirs.
  const rename = operations.filter({ has: page.getByRole('heading', { name: /^PATCH\s*\/v1\/connectors\/\{id\}$/ }) });
  await rename.getByText('Try it').click();
  await rename.getByLabel('Path').fill(`/v1/connectors/${id}`);
  await rename.getByLabel('JSON body').fill('{"display_name": "Renamed from the API page"}');
  await rename.getByRole('button', { name: 'Send' }).click();
  await expect(rename.getByTestId('api-answer')).toContainText('Renamed from the API page');
  const audit = await request.get(`/v1/audit?connector_id=${id}&action=update`, { headers: { authorization: `Bearer ${token}` } });
  expect((await audit.json()).entries[0].user_id).toBe('ana@acme.test');
});
