import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { download, DownloadAbortedError, HttpStatusError } from '../../../sdk';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { tempDir } from '../../support/platform';
import { CuttingProxy } from './support';

const SIZE = 1024 * 1024;

describe('SDK download with resume (against the artifact download of the real API)', () => {
  let s: ApiServer;
  let proxy: CuttingProxy;
  let artifact: { id: string; sha256: string; size: number };
  let port: number;

  before(async () => {
    s = await startApiServer({ ota: { maxArtifactBytes: 8 * SIZE } });
    const r = await s.admin.post('/ota/artifacts?name=fw&version=1.0.0&models=m', randomBytes(SIZE), { 'content-type': 'application/octet-stream' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    artifact = r.body;
    port = Number(new URL(s.url).port);
    proxy = await CuttingProxy.start(port);
  });
  after(async () => {
    await proxy.close();
    await s.close();
  });

  const viaProxy = () => `http://127.0.0.1:${proxy.port}/api/v1/ota/artifacts/${artifact.id}/download`;
  const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

  it('downloads a whole file with one request', async () => {
    const file = path.join(tempDir(), 'fw.bin');
    const r = await download({ url: `${s.url}/ota/artifacts/${artifact.id}/download`, file, token: s.admin.token, expectedSize: SIZE });
    assert.deepEqual([r.size, r.bytesFetched, r.requests, r.resumes, r.restarts], [SIZE, SIZE, 1, 0, 0]);
    assert.equal(sha(file), artifact.sha256);
    assert.equal(fs.existsSync(`${file}.part`), false);
  });

  it('resumes with a Range request after the connection is cut mid-way, fetching little more than the file', async () => {
    const file = path.join(tempDir(), 'fw.bin');
    proxy.cutAfter(SIZE * 0.4, SIZE * 0.3);
    const progress: number[] = [];
    const r = await download({ url: viaProxy(), file, token: s.admin.token, expectedSize: SIZE, retryDelayMs: 20, onProgress: (b) => progress.push(b) });
    assert.equal(sha(file), artifact.sha256);
    assert.equal(r.requests, 3);
    assert.equal(r.resumes, 2);
    assert.equal(r.restarts, 0);
    assert.ok(r.bytesFetched >= SIZE && r.bytesFetched < 1.2 * SIZE, `fetched ${r.bytesFetched}`);
    assert.equal(progress.at(-1), SIZE);
  });

  it('resumes a partial file an earlier (aborted) download left behind', async () => {
    const file = path.join(tempDir(), 'fw.bin');
    proxy.stallAfter(SIZE / 2);
    const controller = new AbortController();
    const first = download({
      url: viaProxy(),
      file,
      token: s.admin.token,
      expectedSize: SIZE,
      signal: controller.signal,
      onProgress: (b) => b >= SIZE / 4 && setTimeout(() => controller.abort(), 100),
    });
    await assert.rejects(first, DownloadAbortedError);
    const have = fs.statSync(`${file}.part`).size;
    assert.ok(have > 0 && have < SIZE, `${have} bytes kept`);
    const r = await download({ url: viaProxy(), file, token: s.admin.token, expectedSize: SIZE });
    assert.equal(sha(file), artifact.sha256);
    assert.deepEqual([r.requests, r.resumes, r.bytesFetched], [1, 1, SIZE - have]);
  });

  it('starts over from byte 0 when the server answers the range with the whole file (200: the ETag no longer matches)', async () => {
    const file = path.join(tempDir(), 'fw.bin');
    fs.writeFileSync(`${file}.part`, randomBytes(1000));
    fs.writeFileSync(`${file}.part.json`, JSON.stringify({ etag: '"an-older-build"' }));
    const r = await download({ url: viaProxy(), file, token: s.admin.token, expectedSize: SIZE });
    assert.equal(sha(file), artifact.sha256, 'none of the stale bytes are kept');
    assert.deepEqual([r.requests, r.resumes, r.restarts, r.bytesFetched], [1, 0, 1, SIZE]);
  });

  it('does not fetch again a partial file that is already complete', async () => {
    const file = path.join(tempDir(), 'fw.bin');
    const whole = path.join(tempDir(), 'whole.bin');
    await download({ url: viaProxy(), file: whole, token: s.admin.token });
    fs.copyFileSync(whole, `${file}.part`);
    fs.writeFileSync(`${file}.part.json`, JSON.stringify({ etag: `"${artifact.sha256}"` }));
    const r = await download({ url: viaProxy(), file, token: s.admin.token, expectedSize: SIZE });
    assert.deepEqual([r.requests, r.bytesFetched], [0, 0]);
    assert.equal(sha(file), artifact.sha256);
  });

  it('fails at once on a client error such as 401 or 404, without retrying', async () => {
    const file = path.join(tempDir(), 'fw.bin');
    const before = proxy.connections;
    await assert.rejects(download({ url: viaProxy(), file, token: 'wrong', retryDelayMs: 10 }), (err: HttpStatusError) => err instanceof HttpStatusError && err.status === 401);
    await assert.rejects(download({ url: `http://127.0.0.1:${proxy.port}/api/v1/ota/artifacts/nope/download`, file, token: s.admin.token, retryDelayMs: 10 }), (err: HttpStatusError) => err.status === 404);
    assert.equal(proxy.connections - before, 2);
  });

  it('gives up with DownloadError after its retries when nothing can be fetched', async () => {
    const file = path.join(tempDir(), 'fw.bin');
    proxy.refuse(true);
    try {
      await assert.rejects(download({ url: viaProxy(), file, token: s.admin.token, retries: 2, retryDelayMs: 10 }), (err: Error & { code?: string }) => err.code === 'FF_SDK_DOWNLOAD_FAILED' && /after 3 attempts/.test(err.message));
    } finally {
      proxy.refuse(false);
    }
  });
});
