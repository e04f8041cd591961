import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startApiServer } from '../../support/api-server';
import { tempDir } from '../../support/platform';
import { verifyManifest } from '../../../runtime/ota/signing';
import { assertProblem } from '../api/problems';

describe('OTA artifact signing', () => {
  it('signs each artifact manifest with the configured Ed25519 key, and the signature verifies with the published key', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'ota.pem');
    fs.writeFileSync(file, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    const s = await startApiServer({ ota: { maxArtifactBytes: 1024 * 1024, signingKeyFile: file } });
    try {
      const a = (await s.admin.post('/ota/artifacts?name=fw&version=1.2.3&models=m', randomBytes(1000), { 'content-type': 'application/octet-stream' })).body;
      const { publicKey, algorithm } = (await s.admin.get('/ota/signing-key')).body;
      assert.equal(algorithm, 'Ed25519');
      assert.equal(verifyManifest(publicKey, a, a.signature), true);
      assert.equal(verifyManifest(publicKey, { ...a, sha256: a.sha256.replace(/^./, (c: string) => (c === '0' ? '1' : '0')) }, a.signature), false, 'another checksum does not verify');
      assert.equal(verifyManifest(publicKey, { ...a, version: '1.2.4' }, a.signature), false, 'another version does not verify');
      const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;
      assert.equal(verifyManifest(other, a, a.signature), false, 'another key does not verify');
    } finally {
      await s.close();
    }
  });

  it('leaves artifacts unsigned without a key, and says so', async () => {
    const s = await startApiServer();
    try {
      const a = (await s.admin.post('/ota/artifacts?name=fw&version=1.2.3&models=m', randomBytes(10), { 'content-type': 'application/octet-stream' })).body;
      assert.equal(a.signature, null);
      assertProblem(await s.admin.get('/ota/signing-key'), 404, 'FF_NOT_FOUND');
    } finally {
      await s.close();
    }
  });

  it('refuses to start with a key that is not Ed25519', async () => {
    const file = path.join(tempDir(), 'rsa.pem');
    fs.writeFileSync(file, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    await assert.rejects(startApiServer({ ota: { maxArtifactBytes: 1024, signingKeyFile: file } }), /an Ed25519 key is needed/);
  });
});
