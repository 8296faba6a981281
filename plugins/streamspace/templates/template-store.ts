import type { Knex } from 'knex';
import { v1Errors } from '../v1/api-errors.ts';
import type { NewTemplate, TemplateFields } from './template-schema.ts';

export interface TemplateRow {
  id: string;
  name: string;
  display_name: string;
  category: string;
  description: string;
  base_image: string;
  default_resources: TemplateFields['default_resources'];
  vnc: TemplateFields['vnc'];
  environment: Record<string, string>;
  persistent_home: boolean;
  idle_timeout: string;
  tags: string[];
  icon_url: string | null;
  local: TemplateFields['local'];
  created_at: Date;
  updated_at: Date;
}

export type TemplateView = Omit<TemplateRow, 'created_at' | 'updated_at'> & { created_at: string; updated_at: string };

export function templateView(row: TemplateRow): TemplateView {
  return { ...row, created_at: new Date(row.created_at).toISOString(), updated_at: new Date(row.updated_at).toISOString() };
}

/** Live sessions pin their template: it cannot be deleted under them. */
const liveStates = ['pending', 'running', 'hibernating', 'hibernated', 'waking', 'terminating'];

function columns(fields: Partial<TemplateFields>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...fields };
  for (const key of ['default_resources', 'vnc', 'environment', 'tags', 'local'] as const) if (key in fields) out[key] = JSON.stringify(fields[key]);
  return out;
}

/** Templates in the database, seeded from config (`plugins.config.streamspace.templates`). */
export class Templates {
  constructor(private readonly db: Knex) {}

  /**
   * Inserts each configured template once, ever: a ledger remembers what was seeded, so an
   * admin's edits are kept and a template an admin deleted does not come back at the next start.
   */
  async seed(templates: readonly NewTemplate[]): Promise<number> {
    let added = 0;
    for (const template of templates) {
      added += await this.db.transaction(async (trx) => {
        const fresh = await trx('streamspace_template_seeds').insert({ name: template.name }).onConflict('name').ignore().returning('name');
        if (fresh.length === 0) return 0;
        const rows = await trx('streamspace_templates').insert(columns(template)).onConflict('name').ignore().returning('id');
        return rows.length;
      });
    }
    return added;
  }

  /** Inside a creating transaction: the template, locked against deletion until it commits. */
  async getForUse(trx: Knex, name: string): Promise<TemplateRow | undefined> {
    return trx('streamspace_templates').where({ name }).forShare().first<TemplateRow | undefined>();
  }

  async list(category: string | undefined, page: number, limit: number): Promise<{ rows: TemplateRow[]; total: number }> {
    const base = this.db('streamspace_templates').modify((q) => {
      if (category !== undefined) void q.where({ category });
    });
    const [rows, count] = await Promise.all([
      base
        .clone()
        .orderBy('name')
        .limit(limit)
        .offset((page - 1) * limit)
        .select<TemplateRow[]>('*'),
      base.clone().count<Array<{ n: string | number }>>('* as n'),
    ]);
    return { rows, total: Number(count[0]?.n ?? 0) };
  }

  async get(name: string): Promise<TemplateRow | undefined> {
    return this.db('streamspace_templates').where({ name }).first<TemplateRow | undefined>();
  }

  async create(template: NewTemplate): Promise<TemplateRow> {
    const [row] = await this.db('streamspace_templates').insert(columns(template)).onConflict('name').ignore().returning<TemplateRow[]>('*');
    if (!row) throw v1Errors.templateExists(template.name);
    return row;
  }

  async update(name: string, patch: Partial<TemplateFields>): Promise<TemplateRow> {
    const [row] = await this.db('streamspace_templates')
      .where({ name })
      .update({ ...columns(patch), updated_at: this.db.fn.now() })
      .returning<TemplateRow[]>('*');
    if (!row) throw v1Errors.templateNotFound(name, 404);
    return row;
  }

  /** Refused while live sessions use it; the row lock keeps a session from being created under it meanwhile (see getForUse). */
  async remove(name: string): Promise<void> {
    return this.db.transaction(async (trx) => {
      const template: unknown = await trx('streamspace_templates').where({ name }).forUpdate().first('id');
      if (!template) throw v1Errors.templateNotFound(name, 404);
      const live = await trx('streamspace_sessions').where({ template: name }).whereIn('state', liveStates).count<Array<{ n: string | number }>>('* as n');
      const n = Number(live[0]?.n ?? 0);
      if (n > 0) throw v1Errors.templateInUse(name, n);
      await trx('streamspace_templates').where({ name }).delete();
    });
  }
}
