import fsp from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { DownloadAbortedError, DownloadError, HttpStatusError } from './errors';

/** Options of {@link download}. */
export interface DownloadOptions {
  /** Absolute http(s) URL. */
  url: string;
  /** Where the file ends up. While it downloads it is `<file>.part`, with `<file>.part.json` holding the ETag. */
  file: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** The size the file must have, when known (a complete `.part` is then not fetched again). */
  expectedSize?: number;
  /** Aborts the download; it rejects with {@link DownloadAbortedError} and the `.part` file stays for a later resume. */
  signal?: AbortSignal;
  /** Attempts after a network error or a 5xx answer before giving up (default 5). */
  retries?: number;
  /** First wait between attempts, doubled each time up to 30 s (default 1000 ms). */
  retryDelayMs?: number;
  /** A connection that sends nothing for this long is dropped and retried (default 30,000 ms). */
  idleTimeoutMs?: number;
  /** Called as bytes arrive: the bytes the file has now, its total size when known, and the bytes received over the network so far. */
  onProgress?: (bytes: number, total: number | undefined, fetched: number) => void;
}

/** What a download did. */
export interface DownloadResult {
  file: string;
  /** Size of the file. */
  size: number;
  /** Bytes received over the network, every attempt included. */
  bytesFetched: number;
  /** HTTP requests made. */
  requests: number;
  /** Requests that continued a partial file (206 to a `Range`). */
  resumes: number;
  /** Times the partial file was thrown away (the server sent the whole file, or a different one). */
  restarts: number;
}

interface PartMeta {
  etag: string;
}

/**
 * Download a file over HTTP(S) with resume: the bytes go to `<file>.part`; after a cut (or in a new
 * process) the download continues with `Range: bytes=<have>-` and `If-Range: <etag>`. A `200`
 * answer to that (the file changed, or ranges are not supported) starts over from byte 0. Network
 * errors and 5xx answers are retried with backoff; other statuses reject with
 * {@link HttpStatusError}, exhausted retries with {@link DownloadError}.
 */
export async function download(options: DownloadOptions): Promise<DownloadResult> {
  const part = `${options.file}.part`;
  const metaFile = `${part}.json`;
  const retries = options.retries ?? 5;
  const result: DownloadResult = { file: options.file, size: 0, bytesFetched: 0, requests: 0, resumes: 0, restarts: 0 };
  let meta = await readMeta(metaFile);
  let have = await sizeOf(part);
  if (have > 0 && !meta) {
    // Without the ETag an If-Range cannot prove the bytes belong to the same file.
    await fsp.rm(part, { force: true });
    have = 0;
  }
  let failures = 0;
  let delay = options.retryDelayMs ?? 1000;
  for (;;) {
    if (options.signal?.aborted) throw new DownloadAbortedError();
    if (options.expectedSize !== undefined && have === options.expectedSize && have > 0) break;
    if (options.expectedSize !== undefined && have > options.expectedSize) {
      await restart();
      continue;
    }
    let outcome: 'complete' | 'restart' | 'retry';
    let lastError: unknown;
    const before = result.bytesFetched;
    try {
      outcome = await attempt();
    } catch (err) {
      if (options.signal?.aborted || (err as Error).name === 'AbortError') throw new DownloadAbortedError();
      if (err instanceof HttpStatusError && !(err.status >= 500 || err.status === 408 || err.status === 429)) throw err;
      outcome = 'retry';
      lastError = err;
    }
    have = await sizeOf(part);
    if (outcome === 'complete') break;
    if (outcome === 'restart') {
      await restart();
      continue;
    }
    if (result.bytesFetched > before) {
      // Progress was made: only attempts that get nothing count toward giving up.
      failures = 0;
      delay = options.retryDelayMs ?? 1000;
    }
    if (++failures > retries) throw new DownloadError(`gave up on ${options.url} after ${failures} attempts: ${(lastError as Error | undefined)?.message ?? 'the response ended early'}`, lastError);
    await sleep(delay, options.signal);
    delay = Math.min(delay * 2, 30_000);
  }
  await fsp.rename(part, options.file);
  await fsp.rm(metaFile, { force: true });
  result.size = have;
  return result;

  async function restart(): Promise<void> {
    result.restarts++;
    await fsp.rm(part, { force: true });
    await fsp.rm(metaFile, { force: true });
    meta = null;
    have = 0;
  }

  /** One request. Resolves 'complete' when the file is whole, 'restart' when the partial file must go, 'retry' when the body ended early. */
  async function attempt(): Promise<'complete' | 'restart' | 'retry'> {
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const ranged = have > 0 && meta !== null;
    if (ranged) {
      headers.range = `bytes=${have}-`;
      headers['if-range'] = meta!.etag;
    }
    result.requests++;
    const res = await request(options.url, headers, options.signal, options.idleTimeoutMs ?? 30_000);
    const status = res.statusCode ?? 0;
    if (status === 416) {
      res.resume();
      return 'restart';
    }
    if (status !== 200 && status !== 206) {
      const body = await readSome(res);
      throw new HttpStatusError(status, options.url, body);
    }
    let total: number | undefined;
    let flags = 'w';
    if (status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
      if (!ranged || !m || Number(m[1]) !== have) {
        res.resume();
        return 'restart';
      }
      total = m[3] === '*' ? undefined : Number(m[3]);
      flags = 'a';
      result.resumes++;
    } else {
      if (have > 0) result.restarts++;
      const length = Number(res.headers['content-length']);
      total = Number.isFinite(length) ? length : undefined;
      const etag = res.headers.etag;
      meta = etag ? { etag } : null;
      if (meta) await fsp.writeFile(metaFile, JSON.stringify(meta));
      else await fsp.rm(metaFile, { force: true });
      have = 0;
    }
    if (total === undefined) total = options.expectedSize;
    // Each chunk is written before the next is read, so every byte received is on disk when the
    // connection breaks, and the resume asks only for what never arrived.
    let bytes = have;
    const out = await fsp.open(part, flags);
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        result.bytesFetched += chunk.length;
        await out.write(chunk);
        bytes += chunk.length;
        options.onProgress?.(bytes, total, result.bytesFetched);
      }
    } finally {
      await out.sync().catch(() => undefined);
      await out.close();
    }
    const size = await sizeOf(part);
    if (total !== undefined && size < total) return 'retry';
    return 'complete';
  }
}

function request(url: string, headers: Record<string, string>, signal: AbortSignal | undefined, idleTimeoutMs: number): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : http;
    // A fresh connection per request (no agent): a resumed download must not reuse a socket that was cut.
    const req = lib.request(u, { method: 'GET', headers, signal, agent: false }, (res) => {
      res.setTimeout?.(idleTimeoutMs);
      resolve(res);
    });
    req.setTimeout(idleTimeoutMs, () => req.destroy(new Error(`no data for ${idleTimeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function readSome(res: http.IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of res) {
    if (body.length < 2000) body += String(chunk);
  }
  return body;
}

async function readMeta(file: string): Promise<PartMeta | null> {
  try {
    const m = JSON.parse(await fsp.readFile(file, 'utf8')) as PartMeta;
    return typeof m.etag === 'string' ? m : null;
  } catch {
    return null;
  }
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await fsp.stat(file)).size;
  } catch {
    return 0;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new DownloadAbortedError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(new DownloadAbortedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
