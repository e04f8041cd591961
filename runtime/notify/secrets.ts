import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

const VERSION = 'v1';

/**
 * Encrypts endpoint credentials at rest (AES-256-GCM). Unlike passwords and device tokens, which
 * Fieldflow only verifies and so keeps as hashes, these are presented to someone else's server
 * (a Twilio auth token, a webhook signing secret, a push subscription's keys), so they must be
 * recoverable. The key comes from FIELDFLOW_CREDENTIAL_SECRET when set, or is generated once and
 * kept in an owner-only file beside the data; the API never returns the clear values.
 */
export class SecretBox {
  private constructor(
    private readonly key: Buffer,
    /** Where the key came from, for error messages. */
    readonly source: string,
  ) {}

  static async open(dataDir: string | null, secret: string | undefined): Promise<SecretBox> {
    if (secret) return new SecretBox(createHash('sha256').update(`fieldflow-notify:${secret}`).digest(), 'FIELDFLOW_CREDENTIAL_SECRET');
    if (dataDir === null) return new SecretBox(randomBytes(32), 'an in-memory key');
    const file = path.join(dataDir, 'notify.key');
    try {
      const key = Buffer.from((await fs.readFile(file, 'utf8')).trim(), 'base64');
      if (key.length === 32) return new SecretBox(key, file);
      throw new Error(`${file} does not hold a 32-byte key; restore it from a backup (endpoint credentials cannot be read without it)`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const key = randomBytes(32);
    await fs.mkdir(dataDir, { recursive: true });
    // 'wx': two processes starting at once must not both write a key.
    await fs.writeFile(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    return new SecretBox(key, file);
  }

  seal(value: unknown): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  open<T>(sealed: string): T {
    if (!sealed.startsWith(`${VERSION}:`)) throw new Error('unknown credential format');
    const raw = Buffer.from(sealed.slice(VERSION.length + 1), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')) as T;
  }
}
