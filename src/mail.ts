// Outgoing mail: through SMTP when SMTP_URL is set; otherwise each mail is written as an .eml file
// under the outbox beside the database and logged, so a newcomer can reset a password with no mail server.
// nodemailer is loaded with the first mail, not at start (it costs a start about a hundred milliseconds).
import type { Transporter } from 'nodemailer';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { Settings } from './config.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';

export type Mail = { to: string; subject: string; text: string };
export type Mailer = { send(mail: Mail): Promise<void> };

/** A mailer that counts the mails it has accepted but not yet handed on (its queue). */
export function createMailer(settings: Settings, log: Logger, metrics: Pick<Metrics, 'queued'>): Mailer {
  const transport = transportFor(settings, log);
  return {
    async send(mail) {
      metrics.queued('mail', 1);
      try {
        await transport.send(mail);
      } finally {
        metrics.queued('mail', -1);
      }
    },
  };
}

/** `make` once, when first asked for. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}

function transportFor(settings: Settings, log: Logger): Mailer {
  const from = settings.MAIL_FROM;
  const nodemailer = once(async () => (await import('nodemailer')).default);
  if (settings.SMTP_URL) {
    const url = settings.SMTP_URL;
    const transport = once(async (): Promise<Transporter> => (await nodemailer()).createTransport(url));
    return {
      async send(mail) {
        await (await transport()).sendMail({ from, ...mail });
        log.info('mail sent', { to: mail.to, subject: mail.subject });
      },
    };
  }
  const outbox = join(dirname(settings.DBPATH), 'outbox');
  const transport = once(async () => (await nodemailer()).createTransport({ streamTransport: true, buffer: true, newline: 'unix' }));
  return {
    async send(mail) {
      const { message } = await (await transport()).sendMail({ from, ...mail });
      mkdirSync(outbox, { recursive: true });
      const file = join(outbox, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.eml`);
      // Whole or not at all: whoever reads the outbox (a person, a script, a test) never sees a mail half written.
      writeFileSync(`${file}.partial`, message as Buffer, { mode: 0o600 });
      renameSync(`${file}.partial`, file);
      log.info('mail written to the outbox (no SMTP_URL set)', { to: mail.to, subject: mail.subject, file });
    },
  };
}
