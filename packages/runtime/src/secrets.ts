import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * Seals MCP credentials for job data with AES-256-GCM, so they never sit in plain text in Redis:
 * not in the record, not in the log, and in job data only while the job lives.
 */
export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('The job key must be 32 bytes');
  }

  seal(value: unknown): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  }

  open<T>(sealed: string): T {
    const raw = Buffer.from(sealed, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')) as T;
  }

  /**
   * A keyed digest (HMAC-SHA256) of a text that may hold credentials: stable across processes that
   * share the key, so it can name a Redis key, and useless for guessing the credentials behind it.
   */
  digest(text: string): string {
    return createHmac('sha256', this.key).update('spool/digest\u0000').update(text).digest('hex');
  }

  static generateKey(): string {
    return randomBytes(32).toString('base64');
  }
}
