// The service worker behind the opt-in page: it shows Fieldflow's push messages as notifications and
// opens the link a notification carries. Its scope is /notify/, so it never sees the editor's requests.
'use strict';

const DEFAULT_TITLE = 'Fieldflow';

self.addEventListener('install', () => {
  // A new version takes over at once: it holds no caches that an old page could still depend on.
  self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

/** The platform sends JSON `{title, body, url?, tag?}`; anything else is shown as the text it is. */
function readPayload(data) {
  if (!data) return {};
  let parsed;
  try {
    parsed = data.json();
  } catch {
    return { body: data.text() };
  }
  if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed;
  return { body: String(parsed) };
}

/** Only web links open: a payload must not be able to open a javascript: or data: URL. */
function safeUrl(url) {
  try {
    const resolved = new URL(typeof url === 'string' && url ? url : '/', self.location.origin);
    return resolved.protocol === 'https:' || resolved.protocol === 'http:' ? resolved.href : new URL('/', self.location.origin).href;
  } catch {
    return new URL('/', self.location.origin).href;
  }
}

self.addEventListener('push', (event) => {
  const payload = readPayload(event.data);
  const options = {
    body: typeof payload.body === 'string' ? payload.body : '',
    data: { url: safeUrl(payload.url) },
  };
  // With a tag, a newer notification replaces the older one with that tag instead of piling up.
  if (typeof payload.tag === 'string' && payload.tag) options.tag = payload.tag;
  const title = typeof payload.title === 'string' && payload.title ? payload.title : DEFAULT_TITLE;
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = safeUrl(event.notification.data && event.notification.data.url);
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => w.url === url && 'focus' in w);
      return open ? open.focus() : self.clients.openWindow(url);
    }),
  );
});
