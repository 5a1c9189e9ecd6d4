import { defineConfig } from '@playwright/test';

// Ports are chosen by scripts/run-tests.sh; the defaults serve a manual `npx playwright test`.
const APP_PORT = process.env.APP_PORT ?? '3005';
const FAKE_PORT = process.env.FAKE_PORT ?? '9105';
export const JWT_SECRET = 'end-to-end-tests-secret-0123456789abcdef';
const fakes = `http://127.0.0.1:${FAKE_PORT}`;
// HUB_BUILD=release runs the hydration smoke test against what `make release` builds and an
// operator deploys (the release binary and its site); otherwise every test runs on the debug build.
const release = process.env.HUB_BUILD === 'release';
const server = release ? './target/release/connector-hub' : './target/debug/connector-hub';
const siteRoot = release ? (process.env.HUB_SITE_ROOT ?? 'target/site') : 'target/site';

// Every OAuth2 provider registered against the fake authorization server (tests/support/fakes.rs).
const oauthEnv: Record<string, string> = {};
for (const provider of ['google_drive', 'xero', 'quickbooks', 'sage', 'shopify', 'square', 'hubspot']) {
  const prefix = `CONNECTOR_HUB_OAUTH_${provider.toUpperCase()}`;
  const at = provider === 'shopify' ? `${fakes}/shopify/{shop}/admin/oauth` : `${fakes}/oauth/${provider}`;
  oauthEnv[`${prefix}_CLIENT_ID`] = `client-${provider}`;
  oauthEnv[`${prefix}_CLIENT_SECRET`] = `secret-${provider}`;
  oauthEnv[`${prefix}_AUTHORIZE_URL`] = `${at}/authorize`;
  oauthEnv[`${prefix}_TOKEN_URL`] = provider === 'shopify' ? `${at}/access_token` : `${at}/token`;
}

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${APP_PORT}`,
    trace: 'off',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  // Every test runs twice: hydrated, and with JavaScript disabled.
  projects: release
    ? [{ name: 'hydrated', testMatch: 'hydration.spec.ts', use: { javaScriptEnabled: true } }]
    : [
        { name: 'hydrated', use: { javaScriptEnabled: true } },
        { name: 'no-js', use: { javaScriptEnabled: false } },
      ],
  webServer: [
    {
      command: `../target/debug/examples/fake_providers 127.0.0.1:${FAKE_PORT}`,
      url: `${fakes}/health`,
      reuseExistingServer: false,
      timeout: 30_000,
    },
    {
      command: `rm -rf end2end/.tmp/data && ${server}`,
      cwd: '..',
      url: `http://127.0.0.1:${APP_PORT}/healthz`,
      reuseExistingServer: false,
      timeout: 60_000,
      env: {
        LEPTOS_SITE_ADDR: `127.0.0.1:${APP_PORT}`,
        LEPTOS_SITE_ROOT: siteRoot,
        CONNECTOR_HUB_ENV: 'development',
        CONNECTOR_HUB_DATA_DIR: 'end2end/.tmp/data',
        JWT_SECRET,
        CONNECTOR_HUB_EGRESS_ALLOW: '127.0.0.0/8',
        CONNECTOR_HUB_CHECK_TIMEOUT_MS: '3000',
        CONNECTOR_HUB_MONITOR: 'false',
        CONNECTOR_HUB_RATE_ANONYMOUS_PER_MIN: '100000',
        CONNECTOR_HUB_PROVIDER_STRIPE_URL: `${fakes}/stripe`,
        CONNECTOR_HUB_PROVIDER_SHOPIFY_URL: `${fakes}/shopify/{shop}`,
        CONNECTOR_HUB_PROVIDER_SQUARE_URL: `${fakes}/square`,
        CONNECTOR_HUB_PROVIDER_SQUARE_SANDBOX_URL: `${fakes}/square-sandbox`,
        CONNECTOR_HUB_PROVIDER_XERO_URL: `${fakes}/xero`,
        CONNECTOR_HUB_PROVIDER_QUICKBOOKS_URL: `${fakes}/quickbooks`,
        CONNECTOR_HUB_PROVIDER_SAGE_URL: `${fakes}/sage`,
        CONNECTOR_HUB_PROVIDER_HUBSPOT_URL: `${fakes}/hubspot`,
        CONNECTOR_HUB_PROVIDER_GOOGLE_DRIVE_URL: `${fakes}/google`,
        ...oauthEnv,
      },
    },
  ],
});
