import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startApiServer, type ApiServer } from '../../support/api-server';
import { assertProblem } from '../api/problems';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('REST API OTA artifacts', () => {
  let s: ApiServer;
  let dir: string;
  beforeEach(async () => {
    s = await startApiServer({ ota: { maxArtifactBytes: 1024 * 1024 } });
    dir = path.dirname(s.platform.ota.artifacts.file('x'));
  });
  afterEach(() => s.close());

  const upload = (query: string, body: Buffer | string, type = 'application/octet-stream') => s.admin.post(`/ota/artifacts?${query}`, body, { 'content-type': type });
  const files = () => fs.readdirSync(dir).sort();

  it('stores a raw upload with its computed SHA-256 and size, lists it and serves it back', async () => {
    const body = randomBytes(300_000);
    const r = await upload('name=pump-fw&version=1.4.2&models=pump-v2,pump-v3&notes=fixes%20the%20valve', body);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual([r.body.name, r.body.version, r.body.models, r.body.notes, r.body.size, r.body.sha256], ['pump-fw', '1.4.2', ['pump-v2', 'pump-v3'], 'fixes the valve', body.length, sha(body)]);
    assert.deepEqual(files(), [`${r.body.id}.bin`]);
    assert.deepEqual((await s.admin.get('/ota/artifacts')).body.items.map((a: any) => a.id), [r.body.id]);
    const got = await fetch(`${s.url}/ota/artifacts/${r.body.id}/download`, { headers: { authorization: `Bearer ${s.admin.token}` } });
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('etag'), `"${sha(body)}"`);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(body));
  });

  it('takes a multipart upload, fields first, streamed to disk', async () => {
    const body = randomBytes(50_000);
    const form = new FormData();
    form.set('name', 'gw-fw');
    form.set('version', 'v2.0.0-rc.1');
    form.append('models', 'gw-1');
    form.append('models', 'gw-2');
    form.set('file', new Blob([body]), 'gw.bin');
    const res = await fetch(`${s.url}/ota/artifacts`, { method: 'POST', headers: { authorization: `Bearer ${s.admin.token}` }, body: form });
    const json = (await res.json()) as any;
    assert.equal(res.status, 201, JSON.stringify(json));
    assert.deepEqual([json.version, json.models, json.size, json.sha256], ['2.0.0-rc.1', ['gw-1', 'gw-2'], body.length, sha(body)]);
  });

  it('resumes a download from a byte range, and answers 416 for a range past the end', async () => {
    const body = randomBytes(100_000);
    const { id } = (await upload('name=a&version=1.0.0&models=m', body)).body;
    const get = (range: string) => fetch(`${s.url}/ota/artifacts/${id}/download`, { headers: { authorization: `Bearer ${s.admin.token}`, range } });
    const first = await get('bytes=0-39999');
    assert.equal(first.status, 206);
    assert.equal(first.headers.get('content-range'), `bytes 0-39999/${body.length}`);
    const rest = await get('bytes=40000-');
    assert.equal(rest.status, 206);
    const joined = Buffer.concat([Buffer.from(await first.arrayBuffer()), Buffer.from(await rest.arrayBuffer())]);
    assert.ok(joined.equals(body), 'the two parts make the file');
    const tail = await get('bytes=-10');
    assert.ok(Buffer.from(await tail.arrayBuffer()).equals(body.subarray(-10)));
    const past = await get(`bytes=${body.length}-`);
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), `bytes */${body.length}`);
    assert.equal(((await past.json()) as any).code, 'FF_RANGE_NOT_SATISFIABLE');
  });

  it('refuses a version that is not semver, an empty upload and an oversized one, storing nothing', async () => {
    assertProblem(await upload('name=a&version=1.2&models=m', randomBytes(10)), 400, 'FF_INVALID_VERSION');
    assertProblem(await upload('name=a&version=latest&models=m', randomBytes(10)), 400, 'FF_INVALID_VERSION');
    assertProblem(await upload('name=a&version=1.0.0&models=m', Buffer.alloc(0)), 400, 'FF_ARTIFACT_EMPTY');
    assertProblem(await upload('name=a&version=1.0.0&models=m', randomBytes(1024 * 1024 + 1)), 413, 'FF_ARTIFACT_TOO_LARGE');
    const bad = await upload('name=&version=1.0.0', randomBytes(10));
    assertProblem(bad, 400, 'FF_INVALID_ARTIFACT');
    assert.deepEqual(bad.body.errors.map((e: any) => e.path), ['/name', '/models']);
    assert.deepEqual(files(), []);
    assert.equal((await s.admin.get('/ota/artifacts')).body.items.length, 0);
  });

  it('refuses an oversized stream without a Content-Length once it passes the limit, and deletes what arrived', async () => {
    const url = new URL(`${s.url}/ota/artifacts?name=a&version=1.0.0&models=m`);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(url, { method: 'POST', headers: { authorization: `Bearer ${s.admin.token}`, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      for (let i = 0; i < 20; i++) req.write(randomBytes(64 * 1024));
      req.end();
    });
    assert.equal(status, 413);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(files(), []);
  });

  it('leaves nothing behind when the client drops the connection mid-upload', async () => {
    const url = new URL(`${s.url}/ota/artifacts?name=a&version=1.0.0&models=m`);
    const req = http.request(url, { method: 'POST', headers: { authorization: `Bearer ${s.admin.token}`, 'content-type': 'application/octet-stream', 'content-length': '500000' } });
    req.on('error', () => undefined);
    req.write(randomBytes(200_000));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(files().filter((f) => f.startsWith('.upload-')).length, 1, 'the upload is being written');
    req.destroy();
    for (let i = 0; i < 50 && files().length; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(files(), []);
    assert.equal((await s.admin.get('/ota/artifacts')).body.items.length, 0);
  });

  it('leaves nothing behind when a multipart upload is cut inside the file part', async () => {
    const url = new URL(`${s.url}/ota/artifacts`);
    const boundary = 'ffbound';
    const req = http.request(url, { method: 'POST', headers: { authorization: `Bearer ${s.admin.token}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': '600000' } });
    req.on('error', () => undefined);
    const field = (name: string, value: string) => `--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    req.write(field('name', 'cut') + field('version', '1.0.0') + field('models', 'm') + `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="f.bin"\r\ncontent-type: application/octet-stream\r\n\r\n`);
    req.write(randomBytes(200_000));
    for (let i = 0; i < 50 && !files().some((f) => f.startsWith('.upload-')); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(files().filter((f) => f.startsWith('.upload-')).length, 1, 'the upload is being written');
    req.destroy();
    for (let i = 0; i < 50 && files().length; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(files(), []);
    assert.equal((await s.admin.get('/ota/artifacts')).body.items.length, 0);
  });

  it('keeps versions immutable and deletes artifacts by id', async () => {
    const a = (await upload('name=a&version=1.0.0&models=m', randomBytes(10))).body;
    assertProblem(await upload('name=a&version=1.0.0&models=m', randomBytes(10)), 409, 'FF_CONFLICT');
    assert.equal((await upload('name=a&version=1.0.1&models=m', randomBytes(10))).status, 201);
    assertProblem(await s.admin.get('/ota/artifacts/nope'), 404, 'FF_ARTIFACT_NOT_FOUND');
    assert.equal((await s.admin.delete(`/ota/artifacts/${a.id}`)).status, 204);
    assertProblem(await s.admin.get(`/ota/artifacts/${a.id}`), 404, 'FF_ARTIFACT_NOT_FOUND');
    assert.equal(files().length, 1);
    assertProblem(await s.anonymous.get('/ota/artifacts'), 401, 'FF_AUTH_REQUIRED');
  });
});
