// Every test's `test`: Playwright's, with a watch on the browser. A test fails when a page it
// visited panicked or threw (a Rust panic reaches the console through console_error_panic_hook),
// or when, with JavaScript on, the app page it ends on did not hydrate. Without this, a page
// that never hydrates still passes every test whose forms work without JavaScript (issue #31).
import { test as base, type Page, type TestInfo } from '@playwright/test';

export * from '@playwright/test';

const PANIC = /panicked at|entered unreachable code|RuntimeError|not hydrating/i;

/** Waits until the app page `page` shows has hydrated; fails with what the bundle said if not. */
export async function expectHydrated(page: Page) {
  // Only the app's own pages carry the build id and load the bundle (not the API docs, say).
  if ((await page.locator('meta[name="connector-hub-build"]').count()) === 0) return;
  const state = await page
    .waitForFunction(
      () => (window as any).__hydrated === true || (window as any).__hydration_refused,
      null,
      { timeout: 15_000 },
    )
    .then((handle) => handle.jsonValue())
    .catch(() => 'no answer from the bundle within 15 s');
  if (state !== true) throw new Error(`the page did not hydrate: ${state}`);
}

export const test = base.extend<{ browserWatch: void }>({
  browserWatch: [
    async ({ page }, use, info: TestInfo) => {
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error' && PANIC.test(message.text())) {
          problems.push(`console: ${message.text().slice(0, 2000)}`);
        }
      });
      await use();
      const scripted = info.project.use.javaScriptEnabled !== false;
      if (scripted && !page.isClosed() && page.url().startsWith('http')) {
        await expectHydrated(page).catch((e: Error) => problems.push(e.message));
      }
      if (problems.length > 0) {
        throw new Error(`the browser reported:\n${problems.join('\n')}`);
      }
    },
    { auto: true },
  ],
});
