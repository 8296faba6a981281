import type { Knex } from 'knex';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from '../log/logger.ts';
import type { SecretBox } from '../crypto/secret-box.ts';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

export interface OutboxMail extends Mail {
  id: number;
  createdAt: Date;
  sentAt: Date | null;
}

interface OutboxRow {
  id: string | number;
  to_address: string;
  subject: string;
  body_encrypted: string;
  created_at: Date;
  sent_at: Date | null;
  attempts: number;
}

const maxAttempts = 5;

/**
 * Mail goes into an outbox table first (in the caller's transaction, so it is never lost
 * or sent for a rolled-back change), then out through SMTP when one is configured. Without
 * SMTP it stays in the outbox and a log line says so; tests read it there. Bodies are
 * sealed with the at-rest key because they carry single-use tokens.
 */
export class MailOutbox {
  private readonly transport: Transporter | null;

  constructor(
    private readonly db: Knex,
    private readonly box: SecretBox,
    private readonly from: string,
    smtpUrl: string | null,
    private readonly log: Logger,
  ) {
    // Bounded waits: a silent SMTP server must not hold a job, or shutdown, for minutes.
    this.transport = smtpUrl ? nodemailer.createTransport({ url: smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 }) : null;
  }

  async enqueue(mail: Mail, trx: Knex = this.db): Promise<void> {
    const [row] = await trx('mail_outbox')
      .insert({ to_address: mail.to, subject: mail.subject, body_encrypted: this.box.seal(mail.text) })
      .returning<Array<{ id: string | number }>>('id');
    if (!this.transport) this.log.info({ mail_id: Number(row?.id), subject: mail.subject }, 'mail kept in the outbox: no SMTP server is configured (set SMTP_URL)');
  }

  /**
   * Sends what is waiting. Each mail is claimed first (SKIP LOCKED, with a lease), so two
   * replicas never send the same mail; failures are retried on later runs, a few times.
   */
  async deliverPending(signal?: AbortSignal): Promise<number> {
    if (!this.transport) return 0;
    const claimed = await this.db.raw<{ rows: OutboxRow[] }>(
      `UPDATE mail_outbox SET attempts = attempts + 1, claimed_until = now() + interval '5 minutes'
        WHERE id IN (SELECT id FROM mail_outbox
                      WHERE sent_at IS NULL AND attempts < ? AND (claimed_until IS NULL OR claimed_until < now())
                      ORDER BY id LIMIT 10 FOR UPDATE SKIP LOCKED)
        RETURNING *`,
      [maxAttempts],
    );
    let sent = 0;
    for (const row of claimed.rows.sort((a, b) => Number(a.id) - Number(b.id))) {
      if (signal?.aborted) break;
      try {
        await this.transport.sendMail({ from: this.from, to: row.to_address, subject: row.subject, text: this.box.open(row.body_encrypted) });
        await this.db('mail_outbox').where({ id: row.id }).update({ sent_at: this.db.fn.now(), claimed_until: null, last_error: null });
        sent += 1;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        await this.db('mail_outbox').where({ id: row.id }).update({ claimed_until: null, last_error: message });
        this.log.warn({ mail_id: Number(row.id), attempt: row.attempts, error: message }, 'mail delivery failed; will retry');
      }
    }
    return sent;
  }

  async list(to?: string): Promise<OutboxMail[]> {
    const rows = await this.db('mail_outbox')
      .modify((q) => {
        if (to) void q.where('to_address', to);
      })
      .orderBy('id')
      .select<OutboxRow[]>('*');
    return rows.map((r) => ({
      id: Number(r.id),
      to: r.to_address,
      subject: r.subject,
      text: this.box.open(r.body_encrypted),
      createdAt: new Date(r.created_at),
      sentAt: r.sent_at ? new Date(r.sent_at) : null,
    }));
  }

  close(): void {
    this.transport?.close();
  }
}
