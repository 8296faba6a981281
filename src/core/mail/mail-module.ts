import type { Knex } from 'knex';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import type { CoreModule } from '../boot/core-module.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { MailOutbox } from './mail-outbox.ts';

export interface MailModule extends CoreModule {
  outbox: MailOutbox;
}

/** Outgoing mail: an encrypted outbox, delivered over SMTP when one is configured. */
export function createMailModule(options: { db: Knex; box: SecretBox; config: Readonly<Config>; log: Logger }): MailModule {
  const outbox = new MailOutbox(options.db, options.box, options.config.mail.from, options.config.mail.smtp_url, options.log.child({ component: 'mail' }));
  return { name: 'mail', outbox, stop: async () => outbox.close() };
}
