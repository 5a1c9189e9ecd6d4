import { expect, test } from './fixtures';
import { freshTenant, ready, signIn } from './helpers';

test('sign in shows who you are; sign out ends the session', async ({ page }, info) => {
  const tenant = freshTenant(info);
  await signIn(page, tenant, 'ana@acme.test');
  await expect(page).toHaveURL(/\/$/);
  expect(page.url()).not.toContain('token=');
  await ready(page, info);
  await expect(page.getByTestId('session')).toContainText('ana@acme.test');
  await expect(page.getByTestId('session')).toContainText(tenant);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByText('You are signed out.')).toBeVisible();
  await page.goto('/sources');
  await expect(page.getByRole('heading', { name: 'Please sign in' })).toBeVisible();
});

test('a forged sign-in link is refused with an explanation', async ({ page }) => {
  await page.goto('/session?token=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4IiwidGVuYW50X2lkIjoieCJ9.');
  await expect(page).toHaveURL(/\/signin\?error=invalid/);
  await expect(page.getByRole('alert')).toContainText('not valid or has expired');
  await expect(page.getByRole('link', { name: 'Sign in' })).toBeVisible();
});

test('an unknown page says so', async ({ page }) => {
  const response = await page.goto('/no/such/page');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'This page does not exist' })).toBeVisible();
});
