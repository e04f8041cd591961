/** The artifact of an offer. */
export interface OfferedArtifact {
  id: string;
  name?: string;
  version: string;
  size: number;
  /** Hex SHA-256 of the file. */
  sha256: string;
  /** Base64 Ed25519 signature of `JSON.stringify({version, sha256, size})`, or null if unsigned. */
  signature?: string | null;
}

/** An OTA offer, as retained on `devices/{id}/ota` (docs/ota.md, "Device protocol"). */
export interface OtaOffer {
  updateId: string;
  rolloutId?: string;
  artifact: OfferedArtifact;
  /** Download URL: a path on the HTTP port, or absolute. */
  url: string;
  offeredAt?: string;
}

/** A report on `devices/{id}/ota/status`. */
export interface OtaReport {
  updateId?: string;
  state?: 'downloading' | 'downloaded' | 'installing' | 'failed';
  bytes?: number;
  total?: number;
  reason?: string;
  version?: string;
}

/** What the server answered on `devices/{id}/ota/rejected` when it refused a report. */
export interface OtaRejection {
  updateId?: string;
  code: string;
  message: string;
}

/** Parse an offer payload: null for an empty (cleared) one; throws a message for a malformed one. */
export function parseOffer(payload: Buffer): OtaOffer | null {
  if (payload.length === 0) return null;
  let o: any;
  try {
    o = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new Error('the offer is not JSON');
  }
  const a = o?.artifact;
  const ok =
    typeof o === 'object' &&
    typeof o.updateId === 'string' &&
    o.updateId !== '' &&
    typeof o.url === 'string' &&
    typeof a === 'object' &&
    a !== null &&
    typeof a.id === 'string' &&
    typeof a.version === 'string' &&
    Number.isSafeInteger(a.size) &&
    a.size >= 0 &&
    typeof a.sha256 === 'string' &&
    /^[0-9a-fA-F]{64}$/.test(a.sha256) &&
    (a.signature === undefined || a.signature === null || typeof a.signature === 'string');
  if (!ok) throw new Error('an offer is {updateId, artifact: {id, version, size, sha256, signature}, url}');
  return o as OtaOffer;
}
