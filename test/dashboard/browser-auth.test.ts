// The dashboard in headless Chromium against a real server with authentication on (an
// in-process server over an in-memory database): the login form instead of the data, a
// wrong password, the token in sessionStorage and on every fetch, log out, a session
// ended by a password change, and a user without role root. Chromium is required: without
// it this suite fails, it does not skip.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, newPage } from './chromium.ts';
import { dashboardHtml } from '../../src/dashboard/index.ts';
import { send, startTestServer, type TestServer } from '../server/helpers.ts';

const WAIT = { timeout: 8000, polling: 50 } as const;
const ROOT_PASSWORD = 'correct horse battery';
const ROOT_BASIC = { authorization: `Basic ${Buffer.from(`root:${ROOT_PASSWORD}`).toString('base64')}` };

interface Seen {
  readonly path: string;
  readonly headers: Record<string, string>;
}

describe('dashboard login in Chromium, against a server with authentication', () => {
  let server: TestServer;
  let origin: string;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const requests: Seen[] = [];
  const challenges: string[] = [];

  async function visible(selector: string): Promise<boolean> {
    return page.locator(selector).isVisible();
  }

  async function text(selector: string): Promise<string> {
    return (await page.locator(selector).innerText()).trim();
  }

  async function logIn(user: string, password: string): Promise<void> {
    await page.fill('#login-user', user);
    await page.fill('#login-password', password);
    await page.click('#login-submit');
  }

  /** Logged in as `user`, and the data of a poll made with that session on screen. */
  async function waitLive(user: string): Promise<void> {
    await page.waitForFunction(
      (name) => document.getElementById('session-user')?.textContent === name && document.getElementById('connection')?.textContent === 'Live',
      user,
      WAIT,
    );
    await page.waitForSelector('#content', { state: 'visible', ...WAIT });
  }

  /** Waits until the node has `n` subscribers on GET /cluster/events. */
  async function subscribers(n: number): Promise<void> {
    const until = Date.now() + WAIT.timeout;
    while (server.backend.clusterEvents().subscribers !== n) {
      if (Date.now() > until) assert.fail(`${server.backend.clusterEvents().subscribers} event subscribers, expected ${n}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async function putUser(name: string, password: string, roles: string[]): Promise<void> {
    const res = await send(server.app, 'PUT', `/auth/users/${name}`, { password, roles }, ROOT_BASIC);
    assert.ok(res.statusCode === 200 || res.statusCode === 201, res.body);
  }

  before(async () => {
    server = await startTestServer({ auth: { rootPassword: ROOT_PASSWORD }, dashboardHtml: dashboardHtml() });
    const until = Date.now() + 5000;
    while (!server.db.store.auth.enabled) {
      if (Date.now() > until) throw new Error('timed out waiting for the auth bootstrap');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    origin = await server.app.listen({ port: 0, host: '127.0.0.1' });
    const role = await send(
      server.app,
      'PUT',
      '/auth/roles/catalog-reader',
      { permissions: [{ collection: 'catalog', actions: ['read'] }] },
      ROOT_BASIC,
    );
    assert.equal(role.statusCode, 201, role.body);
    await putUser('reader', 'reader-password', ['catalog-reader']);
    await putUser('viewer', 'viewer-password', ['root']);

    browser = await launchChromium(['--disable-sync']);
    page = await newPage(browser, problems);
    page.on('console', (msg) => {
      if (msg.type() !== 'error' && msg.type() !== 'warning') return;
      // Chromium logs every non-2xx fetch; the 401s and 403s are what this test provokes.
      if (/^Failed to load resource: the server responded with a status of 40[13]/.test(msg.text())) return;
      problems.push(`console ${msg.type()}: ${msg.text()}`);
    });
    page.on('request', (req) => {
      const url = new URL(req.url());
      if (url.origin === origin && url.pathname !== '/dashboard') requests.push({ path: url.pathname, headers: req.headers() });
    });
    page.on('response', (res) => {
      if (res.status() === 401) challenges.push(res.headers()['www-authenticate'] ?? '(none)');
    });
    // A Basic challenge would make a browser ask for a password in its own dialog.
    page.on('dialog', (dialog) => {
      problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    await page.goto(`${origin}/dashboard?poll=150`);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('without a session: the login form instead of the data, no Basic challenge, no polling', async () => {
    await page.waitForSelector('#login', { state: 'visible', ...WAIT });
    assert.equal(await visible('#content'), false, 'no charts');
    assert.equal(await visible('#summary'), false);
    assert.equal(await visible('#session'), false);
    assert.ok(challenges.length > 0);
    // Every fetch says it comes from a script, so the server leaves out the Basic challenge.
    assert.deepEqual([...new Set(challenges)], ['Bearer realm="collection-store"']);
    for (const r of requests) assert.equal(r.headers['x-requested-with'], 'XMLHttpRequest', r.path);
    for (const r of requests) assert.equal(r.headers['authorization'], undefined, r.path);
    const polled = requests.length;
    await page.waitForTimeout(600);
    assert.equal(requests.length, polled, 'nothing polled while the form is shown');
    assert.equal(requests.filter((r) => r.path === '/cluster/events').length, 0, 'no event stream before a login');
  });

  test('a wrong password says so and keeps the form', async () => {
    await logIn('root', 'not the password');
    await page.waitForFunction(() => document.getElementById('login-error')?.textContent === 'Wrong user name or password.', null, WAIT);
    assert.equal(await visible('#login'), true);
    assert.equal(await page.inputValue('#login-password'), '', 'the password field is cleared');
  });

  test('root logs in: the data, the user and "log out"; the token is in sessionStorage and on every fetch', async () => {
    const before = requests.length;
    await logIn('root', ROOT_PASSWORD);
    await waitLive('root');
    assert.equal(await visible('#login'), false);
    assert.equal(await visible('#content'), true);
    assert.equal(await text('#node-id'), '1');
    assert.equal(await text('#session-user'), 'root');
    assert.equal(await visible('#logout'), true);
    await page.waitForFunction(() => document.querySelectorAll('#chart-commit canvas').length === 1, null, WAIT);
    const stored = await page.evaluate(() => ({
      session: sessionStorage.length,
      local: localStorage.length,
      raw: sessionStorage.getItem('collection-store.dashboard.session'),
    }));
    assert.equal(stored.local, 0, 'nothing in localStorage');
    assert.equal(stored.session, 1);
    const token = (JSON.parse(stored.raw ?? '{}') as { token?: string }).token;
    assert.match(token ?? '', /^cs1\./);
    assert.doesNotMatch(stored.raw ?? '', /correct horse/, 'the password is not stored');
    const after = requests.slice(before);
    const login = after.find((r) => r.path === '/auth/login');
    assert.ok(login, 'POST /auth/login');
    // The timeline's stream (read with fetch, not EventSource, so that it carries the token).
    await page.waitForFunction(() => document.getElementById('timeline-status')?.textContent === 'Live', null, WAIT);
    await page.waitForSelector('#timeline-list li[data-type="leader_elected"]', WAIT);
    await subscribers(1);
    const polls = requests.slice(before).filter((r) => ['/cluster/status', '/metrics', '/cluster/metrics', '/cluster/events'].includes(r.path));
    assert.deepEqual([...new Set(polls.map((r) => r.path))].sort(), ['/cluster/events', '/cluster/metrics', '/cluster/status', '/metrics']);
    for (const r of polls) {
      assert.equal(r.headers['authorization'], `Bearer ${token}`, r.path);
      assert.equal(r.headers['x-requested-with'], 'XMLHttpRequest', r.path);
    }
  });

  test('a reload keeps the session of this tab', async () => {
    await page.reload();
    await waitLive('root');
    assert.equal(await visible('#login'), false);
    assert.equal(await text('#session-user'), 'root');
  });

  test('log out: the form again, the session forgotten', async () => {
    await page.click('#logout');
    await page.waitForSelector('#login', { state: 'visible', ...WAIT });
    assert.equal(await text('#login-message'), 'Logged out.');
    await subscribers(0); // the timeline's stream ends with the session
    assert.equal(await visible('#content'), false);
    assert.equal(await visible('#session'), false);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  test('a session ended by a password change: back to the form, saying why', async () => {
    await logIn('viewer', 'viewer-password');
    await waitLive('viewer');
    await putUser('viewer', 'viewer-password-2', ['root']); // revokes the tokens issued before
    await page.waitForSelector('#login', { state: 'visible', ...WAIT });
    assert.match(await text('#login-message'), /^Your session ended/);
    assert.equal(await visible('#content'), false);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  test('a user without role root sees why, not a broken page', async () => {
    await logIn('reader', 'reader-password');
    await page.waitForSelector('#forbidden', { state: 'visible', ...WAIT });
    assert.match(await text('#forbidden'), /^User reader lacks role root: the dashboard needs it\./);
    assert.equal(await visible('#content'), false);
    assert.equal(await visible('#summary'), false);
    assert.equal(await visible('#login'), false);
    assert.equal(await text('#session-user'), 'reader');
    assert.equal(await visible('#logout'), true);
    // It keeps polling: granting the role would show the data.
    const polled = requests.length;
    await page.waitForTimeout(400);
    assert.ok(requests.length > polled);
    await putUser('reader', 'reader-password', ['catalog-reader', 'root']); // a new password generation: logged out
    await page.waitForSelector('#login', { state: 'visible', ...WAIT });
  });

  test('no errors in the page, and no password dialog', async () => {
    const s = await page.evaluate(() =>
      (globalThis as unknown as { __dashboard: { snapshot(): { renderErrors: number; lastError: string | null } } }).__dashboard.snapshot(),
    );
    assert.equal(s.renderErrors, 0, s.lastError ?? '');
    assert.deepEqual(problems, []);
  });
});
