import { expect, test, type Page } from './fixtures';
import { freshTenant, next, ready, signIn } from './helpers';

/** From the wizard to the provider's consent page, the answer there, and back into the wizard. */
async function consent(page: Page, provider: string, type: string, decision: 'Allow access' | 'Deny') {
  await page.getByTestId('oauth-continue').click();
  await expect(page.getByRole('heading', { name: `Fake ${provider} wants to know` })).toBeVisible();
  await page.getByRole('button', { name: decision }).click();
  // The callback hops through a page of ours (so the SameSite=Strict session comes along).
  await page.waitForURL(new RegExp(`/connect/${type}\\?draft=`), { timeout: 15_000 });
}

test('Xero: sign in at Xero, choose the organisation, connected', async ({ page }, info) => {
  await signIn(page, freshTenant(info));
  await page.goto('/connect/xero');
  await ready(page, info);
  await next(page, "Let's start");
  await expect(page.getByText('Xero uses OAuth 2.0')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Paste a token instead' })).toBeVisible();
  await next(page, 'Connect with Xero');
  await expect(page.getByText('Next, Xero asks you to sign in')).toBeVisible();

  await consent(page, 'xero', 'xero', 'Allow access');
  await ready(page, info);
  await expect(page.getByText('Your sign-in can reach 2 of them. Which organisation should we connect?')).toBeVisible();
  await page.getByLabel('Acme Ltd').check();
  await next(page, 'Continue');
  await expect(page.getByTestId('signed-in')).toContainText('Acme Ltd');
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue('Xero – Acme Ltd');
  await next(page, 'Test and save');
  await expect(page.getByTestId('wizard-done')).toContainText("You're connected");
  await expect(page.getByTestId('wizard-done')).toContainText('Acme Ltd');
  // The tokens the fake issued never reach the page.
  expect(await page.content()).not.toContain('goodoauth');

  await page.getByRole('link', { name: 'See connected sources' }).click();
  await expect(page.getByRole('heading', { name: 'Xero – Acme Ltd' })).toBeVisible();
  expect(await page.content()).not.toContain('goodoauth');
});

test('Google Drive: a declined consent says so; approving connects', async ({ page }, info) => {
  await signIn(page, freshTenant(info));
  await page.goto('/connect/google_drive');
  await ready(page, info);
  await next(page, "Let's start");
  await next(page, 'Connect with Google Drive');

  await consent(page, 'google_drive', 'google_drive', 'Deny');
  await expect(page.getByTestId('step-error')).toContainText('You declined access at Google Drive');
  await expect(page.getByTestId('step-error')).toContainText('AUTHORIZATION_REQUIRED');

  await consent(page, 'google_drive', 'google_drive', 'Allow access');
  await ready(page, info);
  await expect(page.getByTestId('signed-in')).toContainText('Access approved');
  await page.getByLabel('Name', { exact: true }).fill('Team Drive');
  await next(page, 'Test and save');
  await expect(page.getByTestId('wizard-done')).toContainText("You're connected");
  await expect(page.getByTestId('wizard-done')).toContainText('“Team Drive” is saved');
  expect(await page.content()).not.toContain('goodoauth');
});
