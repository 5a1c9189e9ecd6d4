import { createHmac, randomBytes } from 'node:crypto';
import type { APIRequestContext, Page, TestInfo } from '@playwright/test';
import { JWT_SECRET } from '../playwright.config';
import { expectHydrated } from './fixtures';

const b64 = (value: object | Buffer) =>
  (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))).toString('base64url');

/** An HS256 token as an identity provider would issue it. */
export function mintToken(tenant: string, user: string): string {
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: user, tenant_id: tenant, iat: now, exp: now + 3600 })}`;
  return `${head}.${b64(createHmac('sha256', JWT_SECRET).update(head).digest())}`;
}

/** A tenant of its own for each test, so tests never see each other's connectors. */
export function freshTenant(info: TestInfo): string {
  return `e2e-${info.project.name}-${randomBytes(4).toString('hex')}`;
}

export async function signIn(page: Page, tenant: string, user = 'ana@acme.test'): Promise<string> {
  const token = mintToken(tenant, user);
  // A sign-in link opened from outside asks before it signs anyone in (login CSRF).
  await page.goto(`/session?token=${token}`);
  await page.getByTestId('continue-sign-in').click();
  await page.waitForURL((url) => url.pathname === '/');
  return token;
}

export async function createConnector(request: APIRequestContext, token: string, body: object): Promise<string> {
  const response = await request.post('/v1/connectors', { data: body, headers: { authorization: `Bearer ${token}` } });
  if (response.status() !== 201) throw new Error(`create failed: ${response.status()} ${await response.text()}`);
  return (await response.json()).connector_id;
}

export const hydrated = (info: TestInfo) => info.project.name === 'hydrated';

/** Clicks a wizard step button and waits until the conversation shows the state the server moved to. */
export async function next(page: Page, name: string) {
  const before = page.url();
  await page.getByRole('button', { name, exact: true }).click();
  await page.waitForURL((url) => url.toString() !== before, { timeout: 15_000 });
  const at = new URL(page.url()).searchParams.get('at');
  await page.locator(`[data-testid="wizard"][data-revision="${at}"]`).waitFor({ timeout: 15_000 });
}

/** Waits until the WASM bundle has hydrated the page (no-op without JavaScript). */
export async function ready(page: Page, info: TestInfo) {
  if (hydrated(info)) await expectHydrated(page);
}
