// Demo data for a fresh checkout (`npm run seed`): five customers and forty services spread so that
// every customer holds a different mix of roles, which is what the contacts table and the consent
// flow are about. The accounts and their passwords are exported for the README and the tests.
import type { Knex } from 'knex';
import { validateNewAccount } from '../../domain/accounts.js';
import { hashPassword } from '../../domain/passwords.js';
import { foldForSearch } from '../../domain/search-text.js';
import { ROLES, type Locale, type Role, type ServiceType } from '../../domain/roles.js';

type DemoKey = 'ana' | 'jean' | 'laura' | 'david' | 'emma';

interface OwnerDetails {
  owner_name: string;
  owner_street: string;
  owner_postal_code: string;
  owner_city: string;
  owner_country: string;
  owner_phone: string;
  owner_email: string;
}

interface DemoPerson {
  key: DemoKey;
  /** The handle without its suffix, which is configuration. */
  stem: string;
  name: string;
  email: string;
  locale: Locale;
  password: string;
  billingOverdue: boolean;
  /** Who owns the domains this person administers (shown on the owner-details page). */
  owner: OwnerDetails;
}

// E-mail addresses are on the reserved example domains so a demo with real SMTP mails nobody.
const PEOPLE: readonly DemoPerson[] = [
  {
    key: 'ana',
    stem: 'ab12345',
    name: 'Ana Beatriz Costa',
    email: 'ana.costa@example.com',
    locale: 'pt',
    password: 'demo-password-1',
    billingOverdue: false,
    owner: {
      owner_name: 'Exemple Boutique, Lda.',
      owner_street: 'Rua Augusta 120',
      owner_postal_code: '1100-053',
      owner_city: 'Lisboa',
      owner_country: 'PT',
      owner_phone: '+351210000120',
      owner_email: 'geral@example.com',
    },
  },
  {
    key: 'jean',
    stem: 'jm20417',
    name: 'Jean Martin',
    email: 'jean.martin@example.net',
    locale: 'en',
    password: 'demo-password-2',
    billingOverdue: false,
    owner: {
      owner_name: 'Jean Martin',
      owner_street: '14 rue des Lilas',
      owner_postal_code: '69003',
      owner_city: 'Lyon',
      owner_country: 'FR',
      owner_phone: '+33478000014',
      owner_email: 'jean.martin@example.net',
    },
  },
  {
    key: 'laura',
    stem: 'lf30988',
    name: 'Laura Fernandes',
    email: 'laura.fernandes@example.org',
    locale: 'en',
    password: 'demo-password-3',
    billingOverdue: false,
    owner: {
      owner_name: 'Fernandes Contabilidade, Unipessoal Lda.',
      owner_street: 'Avenida da Boavista 1500',
      owner_postal_code: '4100-114',
      owner_city: 'Porto',
      owner_country: 'PT',
      owner_phone: '+351220001500',
      owner_email: 'laura.fernandes@example.org',
    },
  },
  {
    key: 'david',
    stem: 'dk41230',
    name: 'David Kowalski',
    email: 'david.kowalski@example.com',
    locale: 'en',
    password: 'demo-password-4',
    // Payments overdue: billing changes touching David are refused.
    billingOverdue: true,
    owner: {
      owner_name: 'Kowalski Studio sp. z o.o.',
      owner_street: 'ul. Długa 8',
      owner_postal_code: '31-147',
      owner_city: 'Kraków',
      owner_country: 'PL',
      owner_phone: '+48120000008',
      owner_email: 'studio@example.com',
    },
  },
  {
    key: 'emma',
    stem: 'es55001',
    name: 'Emma Schneider',
    email: 'emma.schneider@example.net',
    locale: 'en',
    password: 'demo-password-5',
    billingOverdue: false,
    owner: {
      owner_name: 'Schneider Webagentur GmbH',
      owner_street: 'Schillerstraße 21',
      owner_postal_code: '10625',
      owner_city: 'Berlin',
      owner_country: 'DE',
      owner_phone: '+49300000021',
      owner_email: 'kontakt@example.net',
    },
  },
];

export interface DemoService {
  name: string;
  type: ServiceType;
  admin: DemoKey;
  tech: DemoKey;
  billing: DemoKey;
}

// [name, type, admin, tech, billing]. Ana owns a shop (admin of most of her services, Jean does
// the tech, Laura the accounts); Jean, David and Emma each hold some services alone (all three
// roles) and act as technical or billing contact for others.
const SERVICES: readonly (readonly [string, ServiceType, DemoKey, DemoKey, DemoKey])[] = [
  ['exemple-boutique.pt', 'domain', 'ana', 'jean', 'laura'],
  ['exemple-boutique.com', 'domain', 'ana', 'jean', 'laura'],
  ['exemple-boutique.fr', 'domain', 'ana', 'jean', 'ana'],
  ['exemple-boutique.es', 'domain', 'ana', 'emma', 'laura'],
  ['ana-costa.pt', 'domain', 'ana', 'ana', 'ana'],
  ['Web Hosting Pro · exemple-boutique.pt', 'hosting', 'ana', 'jean', 'laura'],
  ['VPS Comfort · boutique-app-01', 'vps', 'ana', 'jean', 'laura'],
  ['VPS Starter · boutique-staging', 'vps', 'ana', 'emma', 'laura'],
  ['Dedicated Advance · boutique-db-01', 'dedicated', 'ana', 'jean', 'laura'],
  ['Email Pro · exemple-boutique.pt', 'email', 'ana', 'jean', 'laura'],
  ['Managed PostgreSQL · boutique-prod', 'database', 'ana', 'jean', 'laura'],
  ['CDN · boutique-static', 'cdn', 'ana', 'jean', 'laura'],
  ['padaria-sao-bento.pt', 'domain', 'ana', 'emma', 'ana'],
  ['Web Hosting Start · padaria-sao-bento.pt', 'hosting', 'ana', 'emma', 'ana'],
  ['cafe-lisboa-centro.pt', 'domain', 'ana', 'emma', 'laura'],
  ['jmartin-consulting.fr', 'domain', 'jean', 'jean', 'jean'],
  ['jean-martin.dev', 'domain', 'jean', 'jean', 'jean'],
  ['VPS Essential · jm-lab-01', 'vps', 'jean', 'jean', 'jean'],
  ['Email Start · jmartin-consulting.fr', 'email', 'jean', 'jean', 'laura'],
  ['Public Cloud · jm-k8s-lab', 'cloud', 'jean', 'jean', 'laura'],
  ['fernandes-contabilidade.pt', 'domain', 'laura', 'jean', 'laura'],
  ['Web Hosting Start · fernandes-contabilidade.pt', 'hosting', 'laura', 'jean', 'laura'],
  ['Email Pro · fernandes-contabilidade.pt', 'email', 'laura', 'emma', 'laura'],
  ['atelier-ceramica.pt', 'domain', 'laura', 'emma', 'laura'],
  ['Email Start · atelier-ceramica.pt', 'email', 'laura', 'laura', 'laura'],
  ['kowalski-studio.com', 'domain', 'david', 'david', 'david'],
  ['kowalski-studio.pl', 'domain', 'david', 'jean', 'david'],
  ['kowalski-photo.eu', 'domain', 'david', 'emma', 'laura'],
  ['Web Hosting Performance · kowalski-studio.com', 'hosting', 'david', 'emma', 'david'],
  ['Dedicated Rise · ks-render-01', 'dedicated', 'david', 'jean', 'david'],
  ['Public Cloud · ks-renderfarm', 'cloud', 'david', 'jean', 'david'],
  ['Object Storage · ks-assets', 'cloud', 'david', 'david', 'david'],
  ['Email Pro · kowalski-studio.com', 'email', 'david', 'jean', 'david'],
  ['schneider-webagentur.de', 'domain', 'emma', 'emma', 'emma'],
  ['Web Hosting Pro · schneider-webagentur.de', 'hosting', 'emma', 'jean', 'emma'],
  ['VPS Comfort · sw-staging-02', 'vps', 'emma', 'emma', 'emma'],
  ['Public Cloud · sw-client-sites', 'cloud', 'emma', 'jean', 'laura'],
  ['Managed MySQL · sw-mysql-01', 'database', 'emma', 'emma', 'laura'],
  ['CDN · sw-static', 'cdn', 'emma', 'emma', 'emma'],
  ['Email Pro · schneider-webagentur.de', 'email', 'emma', 'emma', 'emma'],
];

export const DEMO_SERVICES: readonly DemoService[] = SERVICES.map(([name, type, admin, tech, billing]) => ({ name, type, admin, tech, billing }));

export interface DemoAccount {
  handle: string;
  password: string;
  name: string;
  email: string;
  locale: Locale;
  billingOverdue: boolean;
  /** How many demo services the account holds each role on. */
  roles: Record<Role, number>;
  /** e.g. "admin on 15, tech on 2, billing on 4 services" */
  rolesSummary: string;
}

function rolesOf(key: DemoKey): Record<Role, number> {
  const counts: Record<Role, number> = { admin: 0, tech: 0, billing: 0 };
  for (const service of DEMO_SERVICES) for (const role of ROLES) if (service[role] === key) counts[role] += 1;
  return counts;
}

/** The demo logins for a provider suffix (HANDLE_SUFFIX; `ovh` unless configured). */
export function demoAccounts(handleSuffix = 'ovh'): DemoAccount[] {
  return PEOPLE.map((person) => {
    const roles = rolesOf(person.key);
    return {
      handle: `${person.stem}-${handleSuffix}`,
      password: person.password,
      name: person.name,
      email: person.email,
      locale: person.locale,
      billingOverdue: person.billingOverdue,
      roles,
      rolesSummary: `admin on ${roles.admin}, tech on ${roles.tech}, billing on ${roles.billing} services`,
    };
  });
}

/** The demo accounts with the default suffix, as documented in the README. */
export const DEMO_ACCOUNTS: readonly DemoAccount[] = demoAccounts();

export type SeedResult = { seeded: false } | { seeded: true; accounts: DemoAccount[]; services: number };

async function hasAccounts(db: Knex | Knex.Transaction): Promise<boolean> {
  return (await db('accounts').first('id')) !== undefined;
}

/**
 * Seeds the demo data into a database without accounts; leaves a database that has any untouched.
 * Everything is written in one transaction.
 */
export async function seedDemo(knex: Knex, options: { handleSuffix: string; now?: () => number }): Promise<SeedResult> {
  if (await hasAccounts(knex)) return { seeded: false };
  const accounts = demoAccounts(options.handleSuffix);
  for (const account of accounts) {
    // The demo data goes through the same checks as real accounts, so a bad edit here fails loudly.
    const checked = validateNewAccount(account, options.handleSuffix);
    if ('errors' in checked) throw new Error(`Demo account ${account.handle} is invalid: ${JSON.stringify(checked.errors)}`);
  }
  // Hashed outside the transaction so the write lock is held only for the inserts.
  const hashes = await Promise.all(accounts.map((account) => hashPassword(account.password)));
  const at = (options.now ?? Date.now)();
  const overdueSince = at - 20 * 24 * 60 * 60 * 1000;

  return knex.transaction(async (trx): Promise<SeedResult> => {
    // Checked again inside the transaction: another seed or import may have run meanwhile.
    if (await hasAccounts(trx)) return { seeded: false };
    await trx('accounts').insert(
      accounts.map((account, i) => ({
        handle: account.handle,
        email: account.email,
        name: account.name,
        locale: account.locale,
        password_hash: hashes[i],
        billing_overdue_since: account.billingOverdue ? overdueSince : null,
        created_at: at,
        updated_at: at,
      })),
    );
    const rows = (await trx('accounts').whereIn('handle', accounts.map((a) => a.handle)).select('id', 'handle')) as { id: number; handle: string }[];
    const idByHandle = new Map(rows.map((row) => [row.handle, row.id]));
    const idOf = (key: DemoKey): number => {
      const index = PEOPLE.findIndex((person) => person.key === key);
      return idByHandle.get((accounts[index] as DemoAccount).handle) as number;
    };
    const ownerOf = (key: DemoKey): OwnerDetails => (PEOPLE.find((person) => person.key === key) as DemoPerson).owner;
    await trx('services').insert(
      DEMO_SERVICES.map((service) => ({
        name: service.name,
        search_name: foldForSearch(service.name),
        type: service.type,
        admin_id: idOf(service.admin),
        tech_id: idOf(service.tech),
        billing_id: idOf(service.billing),
        // Owner details only exist for domains.
        ...(service.type === 'domain' ? ownerOf(service.admin) : {}),
        created_at: at,
        updated_at: at,
      })),
    );
    return { seeded: true, accounts, services: DEMO_SERVICES.length };
  });
}
