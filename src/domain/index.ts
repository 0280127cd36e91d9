// Builds the domain services from their dependencies. Each process (web, worker, cli) calls this
// once in its own composition root.
import type { Knex } from 'knex';
import { AccountService } from './accounts.js';
import { AuditLog } from './audit.js';
import { ChangeRequestService } from './change-requests.js';
import { OwnerDetailsService } from './owner-details.js';
import { Outbox } from './outbox.js';
import { ServiceCatalog } from './services.js';

export interface DomainDeps {
  knex: Knex;
  /** Where the contacts list is read (db/knex.ts createReadKnex); `knex` when not given. */
  reader?: Knex;
  handleSuffix: string;
  /** Required, not defaulted: every process that creates requests must pass REQUEST_TTL's value. */
  requestTtlMs: number;
  now?: () => number;
}

export function createDomain(deps: DomainDeps) {
  const now = deps.now ?? Date.now;
  const { knex } = deps;
  const outbox = new Outbox({ now });
  const accounts = new AccountService({ knex, handleSuffix: deps.handleSuffix, outbox, now });
  const services = new ServiceCatalog({ knex, reader: deps.reader ?? knex, accounts, now });
  const audit = new AuditLog({ knex, now });
  const requests = new ChangeRequestService({
    knex,
    accounts,
    services,
    outbox,
    handleSuffix: deps.handleSuffix,
    requestTtlMs: deps.requestTtlMs,
    now,
  });
  const owners = new OwnerDetailsService({ knex, services, audit, now });
  return { accounts, services, audit, outbox, requests, owners, now, handleSuffix: deps.handleSuffix };
}

export type Domain = ReturnType<typeof createDomain>;
