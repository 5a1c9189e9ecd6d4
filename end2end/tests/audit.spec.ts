import { expect, test } from './fixtures';
import { createConnector, freshTenant, ready, signIn } from './helpers';

test('the audit log lists the tenant’s operations and filters them', async ({ page, request }, info) => {
  const token = await signIn(page, freshTenant(info));
  const id = await createConnector(request, token, { connector_type: 'stripe', config: { api_key: 'sk_test_good_4242' } });
  await request.post(`/v1/connectors/${id}/test`, { headers: { authorization: `Bearer ${token}` } });
  await page.goto('/audit');
  await ready(page, info);
  const rows = page.getByTestId('audit-table').locator('tbody tr');
  await expect(rows.filter({ hasText: 'create' })).toHaveCount(1);
  await expect(rows.filter({ hasText: 'test' }).first()).toContainText(id);
  // Every outcome the log records is offered, including a declined sign-in and a failed refresh.
  await expect(page.getByLabel('Outcome').locator('option')).toHaveText(['Any', 'ok', 'refused', 'denied', 'error']);
  await page.getByLabel('Action').selectOption('create');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/action=create/);
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-action', 'create');
  await expect(rows.first()).toContainText('ana@acme.test');
});
