import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';

/** What is signed: these three fields, in this order, as JSON. A device rebuilds it from the offer to verify. */
export function manifestBytes(m: { version: string; sha256: string; size: number }): Buffer {
  return Buffer.from(JSON.stringify({ version: m.version, sha256: m.sha256, size: m.size }), 'utf8');
}

/**
 * Ed25519 signing of artifact manifests. The private key is read from a PEM file
 * (FIELDFLOW_OTA_SIGNING_KEY); devices hold the public key and refuse artifacts whose signature
 * does not verify, so a compromised download path cannot install its own firmware.
 */
export class ManifestSigner {
  private constructor(
    private readonly privateKey: KeyObject,
    readonly publicKeyPem: string,
  ) {}

  static async load(file: string): Promise<ManifestSigner> {
    let key: KeyObject;
    try {
      key = createPrivateKey(await fs.readFile(file));
    } catch (err) {
      throw new Error(`FIELDFLOW_OTA_SIGNING_KEY: cannot read an Ed25519 private key from ${file}: ${(err as Error).message}`);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`FIELDFLOW_OTA_SIGNING_KEY: ${file} holds a ${key.asymmetricKeyType} key; an Ed25519 key is needed (openssl genpkey -algorithm ed25519)`);
    return new ManifestSigner(key, createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string);
  }

  /** The signature, base64. */
  sign(m: { version: string; sha256: string; size: number }): string {
    return sign(null, manifestBytes(m), this.privateKey).toString('base64');
  }
}

/** What a device does: check a manifest's signature with the platform's public key (PEM). */
export function verifyManifest(publicKeyPem: string, m: { version: string; sha256: string; size: number }, signature: string): boolean {
  try {
    return verify(null, manifestBytes(m), createPublicKey(publicKeyPem), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
