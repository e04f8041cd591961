import { Errors, type FieldError } from '../errors';

/** An attachment as a delivery keeps it: the content as base64, so it is plain JSON in the outbox. */
export interface StoredAttachment {
  filename: string;
  /** A media type such as `text/csv`; null: the mail library picks one from the file name. */
  contentType: string | null;
  /** Decoded size in bytes. */
  size: number;
  /** Base64; null once the delivery was sent (the outbox keeps the name and size only). */
  content: string | null;
}

/** Files per notification. */
export const MAX_ATTACHMENTS = 10;
/**
 * Decoded bytes of all attachments of one notification. Every email delivery keeps its own copy
 * in the outbox (memory and disk) until it is sent, and SMTP servers commonly refuse mails of
 * 10 MiB and more once encoded, so this stays well below that.
 */
export const MAX_ATTACHMENT_BYTES = 4 * 1024 * 1024;

const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(\s*;\s*[A-Za-z0-9_.-]+=("[^"\r\n]*"|[A-Za-z0-9_.+-]+))*$/;
// Control characters (CR and LF would break MIME headers) and path separators (some clients save by name).
const BAD_FILENAME = /[\u0000-\u001f\u007f/\\]/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Check the attachments of a notification to send: a list of `{filename, content, encoding?,
 * contentType?}` where content is text (`encoding` `utf8`, the default, or `base64`) or bytes (a
 * Buffer, from a flow). Returns them ready to store, or none. Malformed input is
 * FF_INVALID_NOTIFICATION naming each problem; more than the size limit is FF_ATTACHMENT_TOO_LARGE.
 */
export function checkAttachments(value: unknown): StoredAttachment[] {
  if (value === undefined || value === null) return [];
  const fail = (errors: FieldError[]) => {
    throw Errors.INVALID_NOTIFICATION(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
  };
  if (!Array.isArray(value)) fail([{ path: '/attachments', message: 'must be a list of {filename, content}' }]);
  const list = value as unknown[];
  if (list.length > MAX_ATTACHMENTS) fail([{ path: '/attachments', message: `must hold at most ${MAX_ATTACHMENTS} files` }]);
  const errors: FieldError[] = [];
  const out: StoredAttachment[] = [];
  let total = 0;
  list.forEach((item, i) => {
    const at = `/attachments/${i}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item) || Buffer.isBuffer(item)) {
      errors.push({ path: at, message: 'must be an object {filename, content}' });
      return;
    }
    const a = item as Record<string, unknown>;
    for (const key of Object.keys(a)) if (!['filename', 'content', 'encoding', 'contentType'].includes(key)) errors.push({ path: `${at}/${key}`, message: 'is not allowed' });
    if (typeof a.filename !== 'string' || a.filename.trim() === '' || a.filename.length > 255 || BAD_FILENAME.test(a.filename)) {
      errors.push({ path: `${at}/filename`, message: 'must be a file name of 1-255 characters without control characters, / or \\' });
    }
    if (a.contentType !== undefined && a.contentType !== null && (typeof a.contentType !== 'string' || !MEDIA_TYPE.test(a.contentType))) {
      errors.push({ path: `${at}/contentType`, message: 'must be a media type such as text/csv' });
    }
    const encoding = a.encoding ?? 'utf8';
    if (encoding !== 'utf8' && encoding !== 'base64') errors.push({ path: `${at}/encoding`, message: 'must be utf8 or base64' });
    let bytes: Buffer | null = null;
    if (Buffer.isBuffer(a.content) || a.content instanceof Uint8Array) bytes = Buffer.from(a.content as Uint8Array);
    else if (typeof a.content === 'string' && encoding === 'base64') {
      const compact = a.content.replace(/\s+/g, '');
      if (compact.length % 4 === 0 && BASE64.test(compact)) bytes = Buffer.from(compact, 'base64');
      else errors.push({ path: `${at}/content`, message: 'is not base64' });
    } else if (typeof a.content === 'string') bytes = Buffer.from(a.content, 'utf8');
    else errors.push({ path: `${at}/content`, message: 'must be text or bytes' });
    if (!bytes) return;
    total += bytes.length;
    out.push({ filename: String(a.filename), contentType: typeof a.contentType === 'string' ? a.contentType : null, size: bytes.length, content: bytes.toString('base64') });
  });
  if (errors.length) fail(errors);
  if (total > MAX_ATTACHMENT_BYTES) {
    throw Errors.ATTACHMENT_TOO_LARGE(`The attachments hold ${total} bytes; the limit is ${MAX_ATTACHMENT_BYTES} bytes (${MAX_ATTACHMENT_BYTES / 1024 / 1024} MiB) per notification`, {
      errors: [{ path: '/attachments', message: `hold ${total} bytes, over ${MAX_ATTACHMENT_BYTES}` }],
    });
  }
  return out;
}

/** What views show of attachments: never the content. */
export function attachmentSummary(list: StoredAttachment[] | undefined): Array<{ filename: string; contentType: string | null; size: number }> {
  return (list ?? []).map((a) => ({ filename: a.filename, contentType: a.contentType, size: a.size }));
}
