import semver from 'semver';
import { Errors, type FieldError } from '../errors';
import { parsePayload } from '../channels/payload';

/** A device's report on `devices/{id}/ota/status` (docs/ota.md, "Reports"). */
export interface OtaReport {
  updateId?: string;
  state?: 'downloading' | 'downloaded' | 'installing' | 'failed';
  bytes?: number;
  total?: number;
  reason?: string;
  /** The version the device runs now, normalised. */
  version?: string;
}

const STATES = ['downloading', 'downloaded', 'installing', 'failed'];
const KEYS = ['updateId', 'state', 'bytes', 'total', 'reason', 'version', 'message'];
/** Reports are small; this bounds what a device can make the server parse. */
const LIMITS = { maxPayloadBytes: 4096, maxDepth: 4 };

/** Parse and check a report; the best guess at its updateId comes with the error, for the rejection reply. */
export function parseReport(payload: Buffer): OtaReport {
  const data = parsePayload(payload, LIMITS).data as Record<string, unknown>;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw Errors.MALFORMED_JSON('An OTA report is a JSON object');
  const errors: FieldError[] = [];
  const bad = (path: string, message: string) => errors.push({ path, message });
  for (const key of Object.keys(data)) if (!KEYS.includes(key)) bad(`/${key}`, 'is not allowed');
  const { updateId, state, bytes, total, reason, version } = data;
  if (updateId !== undefined && (typeof updateId !== 'string' || updateId === '' || updateId.length > 64)) bad('/updateId', 'must be the offer\'s updateId');
  if (state !== undefined && (typeof state !== 'string' || !STATES.includes(state))) bad('/state', `must be one of ${STATES.join(', ')}`);
  if (state !== undefined && updateId === undefined) bad('/updateId', 'is required with a state');
  for (const [key, value] of [['bytes', bytes], ['total', total]] as const) {
    if (value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)) bad(`/${key}`, 'must be a whole number of bytes');
  }
  if (typeof bytes === 'number' && typeof total === 'number' && bytes > total) bad('/bytes', 'must not be more than total');
  if (reason !== undefined && (typeof reason !== 'string' || reason === '' || reason.length > 128)) bad('/reason', 'must be text of 1-128 characters');
  const normalised = typeof version === 'string' && version.length <= 256 ? semver.valid(version.trim()) : null;
  if (version !== undefined && !normalised) bad('/version', 'must be a semantic version such as 1.5.0');
  if (state === undefined && version === undefined) bad('/', 'a report needs a state, a version, or both');
  if (errors.length) throw Errors.INVALID_OTA_REPORT(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
  const report: OtaReport = {};
  if (updateId !== undefined) report.updateId = updateId as string;
  if (state !== undefined) report.state = state as OtaReport['state'];
  if (bytes !== undefined) report.bytes = bytes as number;
  if (total !== undefined) report.total = total as number;
  if (reason !== undefined) report.reason = reason as string;
  if (normalised) report.version = normalised;
  return report;
}

/** The updateId of a payload that failed to parse, if there is one to quote in the rejection. */
export function guessUpdateId(payload: Buffer): string | null {
  if (payload.length > LIMITS.maxPayloadBytes) return null;
  try {
    const id = (JSON.parse(payload.toString('utf8')) as { updateId?: unknown }).updateId;
    return typeof id === 'string' ? id.slice(0, 64) : null;
  } catch {
    return null;
  }
}
