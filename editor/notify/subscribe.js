// The web push opt-in page: log in, register the service worker, subscribe this browser and hand the
// subscription to Fieldflow. Plain script with no build step, so the platform serves it as it is.
'use strict';

(() => {
  // sessionStorage: the API token is gone when the tab closes, and no other tab or site can read it.
  const SESSION_KEY = 'fieldflow.notify.session';
  // localStorage: the browser's push subscription outlives the session, so the endpoint id it became does too.
  const ENDPOINT_KEY = 'fieldflow.notify.endpoint';

  const $ = (id) => document.getElementById(id);
  // Relative to this page, so the platform still works when served under a path prefix.
  const apiUrl = (path) => new URL(`../api/v1${path}`, document.baseURI).href;
  const pushSupported =
    window.isSecureContext && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;

  class ProblemError extends Error {
    constructor(detail, code, status) {
      super(detail);
      this.code = code;
      this.status = status;
    }
  }

  function readSession() {
    try {
      const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
      if (session && session.token && !(Date.parse(session.expiresAt) <= Date.now())) return session;
    } catch {
      // A damaged entry is treated as no session.
    }
    sessionStorage.removeItem(SESSION_KEY);
    return null;
  }

  function readEndpoint() {
    try {
      return JSON.parse(localStorage.getItem(ENDPOINT_KEY) || 'null');
    } catch {
      return null;
    }
  }

  async function problemFrom(res) {
    let detail = `${res.status} ${res.statusText}`.trim();
    let code;
    if ((res.headers.get('content-type') || '').includes('json')) {
      try {
        const body = await res.json();
        detail = body.detail || body.title || detail;
        code = body.code;
      } catch {
        // Keep the status line as the detail.
      }
    }
    return new ProblemError(detail, code, res.status);
  }

  function describe(err) {
    return err instanceof ProblemError && err.code ? `${err.message} (${err.code})` : err.message || String(err);
  }

  /** A JSON request to the REST API with the session's token; a refused token ends the session. */
  async function call(method, path, body) {
    const session = readSession();
    if (!session) {
      showLogin('Your session has ended; log in again.');
      throw new Error('Not logged in');
    }
    const headers = { accept: 'application/json, application/problem+json', authorization: `Bearer ${session.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(apiUrl(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
    if (res.status === 401) {
      const problem = await problemFrom(res);
      sessionStorage.removeItem(SESSION_KEY);
      showLogin(`${describe(problem)}. Log in again.`);
      throw problem;
    }
    if (!res.ok) throw await problemFrom(res);
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  }

  /** An applicationServerKey must be bytes; the API sends it as base64url. */
  function base64UrlToBytes(text) {
    const base64 = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  }

  function sameBytes(buffer, bytes) {
    if (!buffer) return true;
    const a = new Uint8Array(buffer);
    return a.length === bytes.length && a.every((b, i) => b === bytes[i]);
  }

  function setMessage(el, text, kind) {
    el.textContent = text;
    el.className = kind || '';
    el.hidden = !text;
  }

  function showLogin(message) {
    $('device').hidden = true;
    $('login').hidden = false;
    setMessage($('login-error'), message || '', 'error');
    $(message ? 'password' : 'username').focus();
  }

  function showPermission() {
    const labels = { default: 'not asked yet', granted: 'granted', denied: 'blocked (change it in the site settings)' };
    $('permission').textContent = 'Notification' in window ? labels[Notification.permission] || Notification.permission : 'not available';
  }

  function showWorkerState(worker) {
    $('sw-state').textContent = worker.state;
    worker.addEventListener('statechange', () => {
      $('sw-state').textContent = worker.state;
    });
  }

  async function registerWorker() {
    if (!('serviceWorker' in navigator)) {
      $('sw-state').textContent = 'not supported here';
      return;
    }
    try {
      const registration = await navigator.serviceWorker.register('sw.js', { scope: './' });
      showWorkerState(registration.installing || registration.waiting || registration.active);
      registration.addEventListener('updatefound', () => showWorkerState(registration.installing));
      const ready = await navigator.serviceWorker.ready;
      if (ready.active) showWorkerState(ready.active);
      if (pushSupported) await showSubscription(ready);
    } catch (err) {
      $('sw-state').textContent = `failed: ${describe(err)}`;
    }
  }

  async function showSubscription(registration) {
    const subscription = await registration.pushManager.getSubscription();
    const stored = readEndpoint();
    const known = subscription && stored && stored.endpoint === subscription.endpoint;
    $('subscription').textContent = !subscription
      ? 'none'
      : known
        ? `active (endpoint ${stored.id})`
        : 'this browser has one, not yet registered here';
    $('test').hidden = !known;
  }

  function showDevice(session) {
    $('login').hidden = true;
    $('device').hidden = false;
    $('user').textContent = session.username;
    $('push-support').textContent = pushSupported
      ? 'yes'
      : window.isSecureContext
        ? 'no: this browser has no Push API here (some have none in private windows)'
        : 'no: push needs HTTPS (or localhost)';
    $('enable').disabled = !pushSupported;
    showPermission();
    void registerWorker();
  }

  async function logIn(event) {
    event.preventDefault();
    const button = $('login-button');
    button.disabled = true;
    setMessage($('login-error'), '');
    const username = $('username').value.trim();
    try {
      const res = await fetch(apiUrl('/auth/token'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, application/problem+json' },
        body: JSON.stringify({ username, password: $('password').value }),
        cache: 'no-store',
      });
      if (!res.ok) throw await problemFrom(res);
      const { token, expiresAt } = await res.json();
      const session = { token, expiresAt, username };
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
      $('password').value = '';
      showDevice(session);
    } catch (err) {
      setMessage($('login-error'), describe(err), 'error');
    } finally {
      button.disabled = false;
    }
  }

  async function enable() {
    // Firefox only shows the permission prompt from a user gesture, so ask before anything awaits.
    const asked = Notification.requestPermission();
    const button = $('enable');
    button.disabled = true;
    setMessage($('result'), 'Enabling…');
    try {
      // Older Safari takes a callback and returns nothing; the property still tells the answer.
      const permission = (await asked) || Notification.permission;
      showPermission();
      if (permission !== 'granted') {
        throw new Error(
          permission === 'denied'
            ? 'Notifications are blocked for this site. Allow them in the site settings, then try again.'
            : 'Notifications were not allowed.',
        );
      }
      const [{ publicKey }, registration] = await Promise.all([call('GET', '/notifications/push/key'), navigator.serviceWorker.ready]);
      const applicationServerKey = base64UrlToBytes(publicKey);
      let subscription = await registration.pushManager.getSubscription();
      // A subscription made for another server key cannot be reused: the browser refuses to resubscribe over it.
      if (subscription && !sameBytes(subscription.options && subscription.options.applicationServerKey, applicationServerKey)) {
        await subscription.unsubscribe();
        subscription = null;
      }
      subscription = subscription || (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey }));
      const body = { subscription: subscription.toJSON() };
      const name = $('device-name').value.trim();
      if (name) body.name = name;
      const endpoint = await call('POST', '/notifications/push/subscriptions', body);
      localStorage.setItem(ENDPOINT_KEY, JSON.stringify({ endpoint: subscription.endpoint, id: endpoint.id }));
      setMessage($('result'), `Notifications are on for this device (endpoint ${endpoint.id}).`, 'ok');
      await showSubscription(registration);
    } catch (err) {
      setMessage($('result'), `Could not enable notifications: ${describe(err)}`, 'error');
    } finally {
      button.disabled = !pushSupported;
    }
  }

  async function sendTest() {
    const stored = readEndpoint();
    if (!stored) return;
    const button = $('test');
    button.disabled = true;
    try {
      await call('POST', `/notifications/endpoints/${encodeURIComponent(stored.id)}/test`);
      setMessage($('result'), 'Test notification sent; it should appear in a moment.', 'ok');
    } catch (err) {
      if (err instanceof ProblemError && err.status === 404) {
        localStorage.removeItem(ENDPOINT_KEY);
        button.hidden = true;
        $('subscription').textContent = 'this browser has one, not yet registered here';
      }
      setMessage($('result'), `Could not send a test notification: ${describe(err)}`, 'error');
    } finally {
      button.disabled = false;
    }
  }

  function logOut(event) {
    event.preventDefault();
    const session = readSession();
    sessionStorage.removeItem(SESSION_KEY);
    if (session) {
      // Revoke the token too; the page does not wait, as the session is over either way.
      fetch(apiUrl('/auth/token'), { method: 'DELETE', headers: { authorization: `Bearer ${session.token}` }, keepalive: true }).catch(
        () => undefined,
      );
    }
    setMessage($('result'), '');
    showLogin();
  }

  $('login-form').addEventListener('submit', logIn);
  $('enable').addEventListener('click', enable);
  $('test').addEventListener('click', sendTest);
  $('logout').addEventListener('click', logOut);

  const session = readSession();
  if (session) showDevice(session);
  else showLogin();
})();
