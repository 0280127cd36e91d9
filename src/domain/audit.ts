import type { Knex } from 'knex';

export interface AuditEntry {
  accountId: number | null;
  action: string;
  subject?: string | null;
  ip: string | null;
  detail?: Record<string, unknown>;
}

/** Security-relevant events (logins, profile and owner changes); never holds secrets. */
export class AuditLog {
  constructor(private readonly deps: { knex: Knex; now: () => number }) {}

  async record(entry: AuditEntry, db: Knex | Knex.Transaction = this.deps.knex): Promise<void> {
    await db('audit_log').insert({
      account_id: entry.accountId,
      action: entry.action,
      subject: entry.subject ?? null,
      ip: entry.ip,
      detail: entry.detail ? JSON.stringify(entry.detail) : null,
      at: this.deps.now(),
    });
  }
}
