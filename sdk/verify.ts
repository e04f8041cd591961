import { createHash, createPublicKey, verify } from 'node:crypto';
import fs from 'node:fs';
import { VerificationError } from './errors';

/** What the platform signs for an artifact (docs/ota.md, "Signing"). */
export interface ArtifactManifest {
  version: string;
  sha256: string;
  size: number;
}

/** The signed bytes: `JSON.stringify({version, sha256, size})`, those three fields in that order. */
export function manifestBytes(m: ArtifactManifest): Buffer {
  return Buffer.from(JSON.stringify({ version: m.version, sha256: m.sha256, size: m.size }), 'utf8');
}

/**
 * Check an Ed25519 signature (base64) of an artifact manifest with the platform's public key (PEM,
 * from `GET /api/v1/ota/signing-key`). False for a bad signature, key or encoding; never throws.
 */
export function verifyManifestSignature(publicKeyPem: string, manifest: ArtifactManifest, signature: string): boolean {
  try {
    return verify(null, manifestBytes(manifest), createPublicKey(publicKeyPem), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** SHA-256 (hex) and size of a file, streamed. */
export async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

/**
 * Check a downloaded artifact against its offer: size and SHA-256 (`checksum_mismatch`), then, when
 * a public key is given, the manifest signature (`signature_invalid`; a missing signature counts as
 * invalid when `requireSignature` is set). Throws {@link VerificationError} with the reason.
 */
export async function verifyArtifact(
  file: string,
  expected: ArtifactManifest & { signature?: string | null },
  options: { publicKeyPem?: string; requireSignature?: boolean } = {},
): Promise<void> {
  const actual = await hashFile(file);
  if (actual.size !== expected.size || actual.sha256 !== expected.sha256.toLowerCase()) {
    throw new VerificationError('checksum_mismatch', `the download has ${actual.size} bytes with SHA-256 ${actual.sha256}; the offer says ${expected.size} bytes with ${expected.sha256}`);
  }
  if (!options.publicKeyPem) return;
  if (!expected.signature) {
    if (options.requireSignature) throw new VerificationError('signature_invalid', 'the offer has no signature and this device requires one');
    return;
  }
  if (!verifyManifestSignature(options.publicKeyPem, expected, expected.signature)) {
    throw new VerificationError('signature_invalid', `the signature of ${expected.version} does not verify with the configured public key`);
  }
}
