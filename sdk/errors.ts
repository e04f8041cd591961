/**
 * Every error the SDK raises is a {@link FieldflowSdkError} with a stable `code`, so callers can
 * branch on `err.code` (or `instanceof` the subclass) instead of matching messages.
 */
export type SdkErrorCode =
  | 'FF_SDK_INVALID_ARGUMENT'
  | 'FF_SDK_CLOSED'
  | 'FF_SDK_CONNECTION_REFUSED'
  | 'FF_SDK_TIMEOUT'
  | 'FF_SDK_MESSAGE_DROPPED'
  | 'FF_SDK_QUEUE_LOCKED'
  | 'FF_SDK_QUEUE_IO'
  | 'FF_SDK_DOWNLOAD_FAILED'
  | 'FF_SDK_DOWNLOAD_ABORTED'
  | 'FF_SDK_VERIFICATION_FAILED'
  | 'FF_SDK_INSTALL_FAILED'
  | 'FF_SDK_HTTP'
  | 'FF_SDK_PROTOCOL';

/** Base class of every SDK error. */
export class FieldflowSdkError extends Error {
  constructor(
    /** Stable machine-readable code. */
    readonly code: SdkErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A bad option or argument (channel name, payload that is not JSON, payload too large...). */
export class InvalidArgumentError extends FieldflowSdkError {
  constructor(message: string) {
    super('FF_SDK_INVALID_ARGUMENT', message);
  }
}

/** The device (or agent) was closed: nothing more is sent or received. */
export class DeviceClosedError extends FieldflowSdkError {
  constructor(message = 'the device is closed') {
    super('FF_SDK_CLOSED', message);
  }
}

/**
 * The broker refused the connection (CONNACK return code, MQTT 3.1.1 table 3.1): 2 identifier
 * rejected, 4 bad user name or password, 5 not authorized. The device stops reconnecting, because
 * retrying with the same credentials cannot succeed.
 */
export class ConnectionRefusedError extends FieldflowSdkError {
  constructor(
    readonly returnCode: number,
    message: string,
  ) {
    super('FF_SDK_CONNECTION_REFUSED', message);
  }
}

/** Something did not happen in time (a first connection, a drain). */
export class TimeoutError extends FieldflowSdkError {
  constructor(message: string) {
    super('FF_SDK_TIMEOUT', message);
  }
}

/** A queued message was dropped, unsent, to make room: the queue hit its count or byte bound. */
export class MessageDroppedError extends FieldflowSdkError {
  constructor(readonly messageId: string) {
    super('FF_SDK_MESSAGE_DROPPED', `message ${messageId} was dropped from the full offline queue before it was sent`);
  }
}

/** Another live process holds the queue directory. */
export class QueueLockedError extends FieldflowSdkError {
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super('FF_SDK_QUEUE_LOCKED', `the queue directory ${dir} is in use by process ${pid}`);
  }
}

/** Reading or writing the queue directory failed. */
export class QueueIoError extends FieldflowSdkError {
  constructor(message: string, cause: unknown) {
    super('FF_SDK_QUEUE_IO', message, { cause });
  }
}

/** An HTTP request answered with an unexpected status. */
export class HttpStatusError extends FieldflowSdkError {
  constructor(
    readonly status: number,
    readonly url: string,
    readonly body: string,
  ) {
    super('FF_SDK_HTTP', `${url} answered ${status}: ${body.slice(0, 300)}`);
  }
}

/** A download failed after its retries (network errors or an HTTP error status). */
export class DownloadError extends FieldflowSdkError {
  constructor(message: string, cause?: unknown) {
    super('FF_SDK_DOWNLOAD_FAILED', message, { cause });
  }
}

/** A download was stopped on purpose: the offer was cleared or replaced, or the agent stopped. */
export class DownloadAbortedError extends FieldflowSdkError {
  constructor(message = 'the download was aborted') {
    super('FF_SDK_DOWNLOAD_ABORTED', message);
  }
}

/** Why a downloaded artifact was refused; these are also the `reason` of the `failed` report. */
export type VerificationReason = 'checksum_mismatch' | 'signature_invalid';

/** A downloaded artifact does not match its offer (size or SHA-256), or its signature does not verify. */
export class VerificationError extends FieldflowSdkError {
  constructor(
    readonly reason: VerificationReason,
    message: string,
  ) {
    super('FF_SDK_VERIFICATION_FAILED', message);
  }
}

/** The application's install callback threw. */
export class InstallError extends FieldflowSdkError {
  constructor(cause: unknown) {
    super('FF_SDK_INSTALL_FAILED', `install failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** The server sent something the SDK cannot read (a config that is not a JSON object, a malformed offer or command). */
export class ProtocolError extends FieldflowSdkError {
  constructor(
    readonly topic: string,
    message: string,
  ) {
    super('FF_SDK_PROTOCOL', `${topic}: ${message}`);
  }
}
