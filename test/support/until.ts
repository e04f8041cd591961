/**
 * Poll `read` until `ok` accepts its value; fails with the last value seen, so a test that
 * times out says what it got.
 */
export async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met; last value ${JSON.stringify(v).slice(0, 800)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
