// The dashboard's login, for a cluster with authentication on: the token of POST
// /auth/login, kept in sessionStorage (this tab only, gone when it closes; never
// localStorage, which every tab and later visit would share), sent as Authorization:
// Bearer on every fetch. Every fetch also sends X-Requested-With, so that a 401 carries
// no Basic challenge and the browser opens no password dialog of its own.
// With authentication off the server never answers 401, and none of this shows.
(function (ns) {
  'use strict';

  const STORAGE_KEY = 'collection-store.dashboard.session';
  const USER_CHARS_MAX = 64;
  const TOKEN_CHARS_MAX = 4096;
  const LOGIN_TIMEOUT_MS = 10000;

  /** sessionStorage when the browser allows it, else memory (the session ends with the page). */
  function createStore() {
    let memory = null;
    function storage() {
      try {
        return globalThis.sessionStorage || null;
      } catch {
        return null; // storage disabled for this origin
      }
    }
    return {
      load() {
        let raw = memory;
        const s = storage();
        if (s !== null) {
          try {
            raw = s.getItem(STORAGE_KEY);
          } catch {
            raw = memory;
          }
        }
        return parseSession(raw);
      },
      save(session) {
        const raw = JSON.stringify(session);
        memory = raw;
        const s = storage();
        if (s !== null) {
          try {
            s.setItem(STORAGE_KEY, raw);
          } catch {
            // quota or disabled: memory keeps it for this page
          }
        }
      },
      clear() {
        memory = null;
        const s = storage();
        if (s !== null) {
          try {
            s.removeItem(STORAGE_KEY);
          } catch {
            // nothing stored then
          }
        }
      },
    };
  }

  /** A stored session, or null when absent or not of the expected shape. */
  function parseSession(raw) {
    if (typeof raw !== 'string' || raw.length > TOKEN_CHARS_MAX + USER_CHARS_MAX + 200) return null;
    let value;
    try {
      value = JSON.parse(raw);
    } catch {
      return null;
    }
    if (value === null || typeof value !== 'object') return null;
    const { user, token } = value;
    if (typeof user !== 'string' || user === '' || user.length > USER_CHARS_MAX) return null;
    if (typeof token !== 'string' || token === '' || token.length > TOKEN_CHARS_MAX || /\s/.test(token)) return null;
    return { user, token };
  }

  /** The headers of every request the dashboard makes. */
  function requestHeaders(session) {
    const headers = { 'X-Requested-With': 'XMLHttpRequest' };
    if (session !== null) headers.Authorization = 'Bearer ' + session.token;
    return headers;
  }

  /** What to tell the user when a login failed, from the HTTP status (0: no answer). */
  function loginFailureText(status) {
    if (status === 401) return 'Wrong user name or password.';
    if (status === 429) return 'Too many logins in progress on this node: try again in a moment.';
    if (status === 400) return 'Enter a user name and a password.';
    if (status === 0) return 'The node did not answer: try again.';
    return 'Login failed (HTTP ' + status + ').';
  }

  /** The message shown to a user who may not read the cluster's status. */
  function forbiddenText(user) {
    return 'User ' + (user || '(unknown)') + ' lacks role root: the dashboard needs it. Log out and log in as a user with role root.';
  }

  /** POST /auth/login; resolves { ok, session } or { ok: false, status }. Never throws. */
  async function login(user, password) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), LOGIN_TIMEOUT_MS);
    try {
      const res = await fetch('/auth/login', {
        method: 'POST',
        cache: 'no-store',
        credentials: 'omit',
        headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'XMLHttpRequest' },
        body: JSON.stringify({ user, password }),
        signal: controller.signal,
      });
      if (!res.ok) return { ok: false, status: res.status };
      const body = await res.json();
      const session = parseSession(JSON.stringify({ user, token: body && body.token }));
      return session === null ? { ok: false, status: res.status } : { ok: true, session };
    } catch {
      return { ok: false, status: 0 };
    } finally {
      clearTimeout(timer);
    }
  }

  ns.createSessionStore = createStore;
  ns.parseSession = parseSession;
  ns.requestHeaders = requestHeaders;
  ns.loginFailureText = loginFailureText;
  ns.forbiddenText = forbiddenText;
  ns.login = login;
})((globalThis.CSDash = globalThis.CSDash || {}));
