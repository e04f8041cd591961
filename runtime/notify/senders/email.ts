import nodemailer, { type Transporter } from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer';
import type { EmailConfig } from '../endpoint-model';
import { SendFailure, type SendRequest, type SendResult, type Sender } from './types';
import { Errors } from '../../errors';

/** The SMTP server (settings.ts reads it from FIELDFLOW_SMTP_*). */
export interface SmtpOptions {
  host: string;
  port: number;
  /** true: TLS from the first byte (port 465); false: STARTTLS when the server offers it. */
  secure: boolean;
  /** Refuse to send unless the server upgrades to TLS. */
  requireTls: boolean;
  /** Check the server's certificate (turn off only for a test server with a self-signed one). */
  rejectUnauthorized: boolean;
  user?: string;
  pass?: string;
  from: string;
  /** Connection, greeting and socket timeouts, in ms. */
  timeoutMs: number;
}

/** nodemailer's codes for "could not talk to the server" (as opposed to "the server said no"). */
const UNREACHABLE = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ECONNRESET', 'ETLS', 'EPROTOCOL']);

/** Email over SMTP with nodemailer: one pooled transport for every email endpoint. */
export class EmailSender implements Sender {
  private readonly transport: Transporter;

  constructor(private readonly smtp: SmtpOptions) {
    this.transport = nodemailer.createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure,
      requireTLS: smtp.requireTls,
      tls: { rejectUnauthorized: smtp.rejectUnauthorized },
      auth: smtp.user ? { user: smtp.user, pass: smtp.pass ?? '' } : undefined,
      pool: true,
      maxConnections: 3,
      connectionTimeout: smtp.timeoutMs,
      greetingTimeout: smtp.timeoutMs,
      socketTimeout: smtp.timeoutMs * 2,
    });
  }

  async send(request: SendRequest): Promise<SendResult> {
    const config = request.config as EmailConfig;
    const { message, idempotencyKey } = request.delivery;
    try {
      const info = await this.transport.sendMail({
        from: this.smtp.from,
        to: config.to,
        cc: config.cc.length ? config.cc : undefined,
        subject: message.subject,
        text: message.text,
        html: message.html,
        // The same Message-ID on every attempt lets mail clients fold a resend after a crash into one.
        messageId: `<${idempotencyKey}@fieldflow>`,
        headers: { 'X-Fieldflow-Delivery': request.delivery.key },
        attachments: attachmentsOf(request),
      });
      const rejected = (info.rejected ?? []).map(String);
      if (rejected.length) throw new SendFailure(Errors.PROVIDER_REJECTED, `the SMTP server refused ${rejected.join(', ')}`, false);
      return { status: Number(/^(\d{3})/.exec(info.response ?? '')?.[1]) || null, info: info.response ?? null };
    } catch (err) {
      if (err instanceof SendFailure) throw err;
      const e = err as Error & { code?: string; responseCode?: number; response?: string };
      if (e.responseCode) {
        // 4xx: try again later (greylisting, a full queue); 5xx: refused for good.
        throw new SendFailure(Errors.PROVIDER_REJECTED, `the SMTP server answered: ${e.response ?? e.message}`, e.responseCode < 500, e.responseCode);
      }
      if (e.code === 'EAUTH') throw new SendFailure(Errors.PROVIDER_REJECTED, `SMTP login failed: ${e.response ?? e.message}`, true);
      if (e.code && UNREACHABLE.has(e.code)) throw new SendFailure(Errors.SMTP_UNREACHABLE, `cannot reach ${this.smtp.host}:${this.smtp.port}: ${e.message}`, true);
      throw new SendFailure(Errors.SMTP_UNREACHABLE, `SMTP send failed: ${e.message}`, true);
    }
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

function attachmentsOf(request: SendRequest): Mail.Attachment[] | undefined {
  const list = request.delivery.message.attachments;
  if (!list?.length) return undefined;
  return list.map((a) => {
    // The outbox drops the content only once the delivery is sent, so a send always has it.
    if (a.content === null) throw new SendFailure(Errors.INVALID_NOTIFICATION, `the content of attachment ${a.filename} is gone`, false);
    return { filename: a.filename, content: Buffer.from(a.content, 'base64'), ...(a.contentType ? { contentType: a.contentType } : {}) };
  });
}
