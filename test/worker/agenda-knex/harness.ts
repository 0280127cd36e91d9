// Backend factories and helpers shared by the Agenda backend contract suites. The suites run the
// same cases against every factory: our Knex backend on the test database (SQLite, or PostgreSQL
// with TEST_DATABASE_URL) and, only when MONGODB_URL is set, the official MongoDB backend.
import { inspect } from 'node:util';
import type { Knex } from 'knex';
import { Agenda, type AgendaBackend, type AgendaOptions } from 'agenda';
import { MongoBackend, MongoClient } from '@agendajs/mongo-backend';
import { KnexBackend } from '../../../src/worker/agenda-knex/index.js';
import { createTestDatabase, testDatabaseClient } from '../../helpers/test-database.js';

export interface BackendHarness {
  /** A new backend object on the test database (one worker). */
  backend(): AgendaBackend;
  /** A new backend object on a second, independent connection pool: another worker process. */
  peerBackend(): AgendaBackend;
  /** Removes every job, between tests. */
  clear(): Promise<void>;
  destroy(): Promise<void>;
}

export interface BackendFactory {
  name: string;
  /**
   * Whether Agenda's drain() leaves no job locked. Agenda itself only waits for running jobs and
   * leaves jobs it had locked for later locked until their lock expires; our Knex backend releases
   * them on disconnect. The MongoDB backend (given a Db, as here) does not, so that one case is
   * registered for the Knex backend only.
   */
  releasesQueuedLocksOnDrain: boolean;
  create(): Promise<BackendHarness>;
}

const knexFactory: BackendFactory = {
  name: `Knex backend (${testDatabaseClient})`,
  releasesQueuedLocksOnDrain: true,
  async create() {
    const db = await createTestDatabase();
    let peer: Knex | undefined;
    return {
      backend: () => new KnexBackend({ knex: db.knex }),
      peerBackend: () => new KnexBackend({ knex: (peer ??= db.connect()) }),
      clear: async () => {
        await db.knex('agenda_jobs').del();
      },
      destroy: () => db.destroy(),
    };
  },
};

let mongoDatabases = 0;

function mongoFactory(url: string): BackendFactory {
  return {
    name: 'MongoDB backend',
    releasesQueuedLocksOnDrain: false,
    async create() {
      mongoDatabases += 1;
      const name = `agenda_contract_${process.pid}_${mongoDatabases}`;
      const client = await MongoClient.connect(url);
      const peerClient = await MongoClient.connect(url);
      const db = client.db(name);
      return {
        backend: () => new MongoBackend({ mongo: db }),
        peerBackend: () => new MongoBackend({ mongo: peerClient.db(name) }),
        clear: async () => {
          await db.collection('agendaJobs').deleteMany({});
        },
        destroy: async () => {
          await db.dropDatabase();
          await Promise.all([client.close(), peerClient.close()]);
        },
      };
    },
  };
}

export const backendFactories: BackendFactory[] = [knexFactory];
const mongodbUrl = process.env.MONGODB_URL;
if (mongodbUrl) backendFactories.push(mongoFactory(mongodbUrl));

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns something truthy, failing with a description after the deadline. */
export async function waitFor<T>(description: string, probe: () => T | Promise<T>, timeoutMs = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${description} (last value: ${inspect(value)})`);
    await sleep(10);
  }
}

/** Creates Agenda instances with test timings and stops them all after each test. */
export class AgendaPool {
  private readonly agendas: Agenda[] = [];

  create(backend: AgendaBackend, options: Partial<AgendaOptions> = {}): Agenda {
    const agenda = new Agenda({ backend, processEvery: 50, ...options });
    this.agendas.push(agenda);
    return agenda;
  }

  async stopAll(): Promise<void> {
    const agendas = this.agendas.splice(0);
    await Promise.all(agendas.map((agenda) => agenda.stop().catch(() => undefined)));
  }
}

/** A promise with its resolve function, to hold a job handler open until the test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
