// Builds the domain services from their dependencies. Each process (web, worker, cli) calls this
// once in its own composition root.
import type { Knex } from 'knex';
import { AccountService } from './accounts.js';
import { AuditLog } from './audit.js';
import { ServiceCatalog } from './services.js';

export interface DomainDeps {
  knex: Knex;
  handleSuffix: string;
  now?: () => number;
}

export function createDomain(deps: DomainDeps) {
  const now = deps.now ?? Date.now;
  const accounts = new AccountService({ knex: deps.knex, handleSuffix: deps.handleSuffix, now });
  const services = new ServiceCatalog({ knex: deps.knex, accounts, now });
  const audit = new AuditLog({ knex: deps.knex, now });
  return { accounts, services, audit, now };
}

export type Domain = ReturnType<typeof createDomain>;
