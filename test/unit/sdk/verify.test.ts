import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ManifestSigner } from '../../../runtime/ota/signing';
import { verifyArtifact, verifyManifestSignature, VerificationError } from '../../../sdk';
import { tempDir } from '../../support/platform';

async function signer(): Promise<ManifestSigner> {
  const file = path.join(tempDir(), 'ota.pem');
  fs.writeFileSync(file, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  return ManifestSigner.load(file);
}

function artifactFile(bytes: Buffer): { file: string; version: string; sha256: string; size: number } {
  const file = path.join(tempDir(), 'fw.bin');
  fs.writeFileSync(file, bytes);
  return { file, version: '1.5.0', sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
}

describe('SDK artifact verification', () => {
  it('accepts a manifest signed by the platform signer, and refuses it once any signed field or the key differs', async () => {
    const s = await signer();
    const m = { version: '1.5.0', sha256: 'ab'.repeat(32), size: 1234 };
    const sig = s.sign(m);
    assert.equal(verifyManifestSignature(s.publicKeyPem, m, sig), true);
    assert.equal(verifyManifestSignature(s.publicKeyPem, { ...m, version: '1.5.1' }, sig), false);
    assert.equal(verifyManifestSignature(s.publicKeyPem, { ...m, sha256: 'ac' + m.sha256.slice(2) }, sig), false);
    assert.equal(verifyManifestSignature(s.publicKeyPem, { ...m, size: 1235 }, sig), false);
    assert.equal(verifyManifestSignature((await signer()).publicKeyPem, m, sig), false, 'another key');
    assert.equal(verifyManifestSignature(s.publicKeyPem, m, 'not base64 at all!'), false);
    assert.equal(verifyManifestSignature('not a key', m, sig), false);
  });

  it('passes a downloaded file whose size, SHA-256 and signature match the offer', async () => {
    const s = await signer();
    const a = artifactFile(randomBytes(5000));
    await verifyArtifact(a.file, { ...a, signature: s.sign(a) }, { publicKeyPem: s.publicKeyPem, requireSignature: true });
  });

  it('refuses a file with one byte changed as checksum_mismatch, before looking at the signature', async () => {
    const s = await signer();
    const a = artifactFile(randomBytes(5000));
    const bytes = fs.readFileSync(a.file);
    bytes[100] ^= 1;
    fs.writeFileSync(a.file, bytes);
    await assert.rejects(verifyArtifact(a.file, { ...a, signature: 'garbage' }, { publicKeyPem: s.publicKeyPem }), (err: VerificationError) => err.reason === 'checksum_mismatch' && err.code === 'FF_SDK_VERIFICATION_FAILED');
  });

  it('refuses a tampered offer (a re-signed manifest from another key, or a changed version) as signature_invalid', async () => {
    const platform = await signer();
    const attacker = await signer();
    const a = artifactFile(randomBytes(3000));
    await assert.rejects(verifyArtifact(a.file, { ...a, signature: attacker.sign(a) }, { publicKeyPem: platform.publicKeyPem }), (err: VerificationError) => err.reason === 'signature_invalid');
    await assert.rejects(verifyArtifact(a.file, { ...a, version: '9.9.9', signature: platform.sign(a) }, { publicKeyPem: platform.publicKeyPem }), (err: VerificationError) => err.reason === 'signature_invalid');
  });

  it('treats an unsigned offer as invalid only when a signature is required', async () => {
    const s = await signer();
    const a = artifactFile(randomBytes(100));
    await verifyArtifact(a.file, { ...a, signature: null }, { publicKeyPem: s.publicKeyPem });
    await assert.rejects(verifyArtifact(a.file, { ...a, signature: null }, { publicKeyPem: s.publicKeyPem, requireSignature: true }), (err: VerificationError) => err.reason === 'signature_invalid');
  });
});
