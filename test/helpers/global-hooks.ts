// Mocha global fixtures: drop the PostgreSQL template database this run created.
import { dropTemplateDatabase } from './test-database.js';

export async function mochaGlobalTeardown(): Promise<void> {
  await dropTemplateDatabase();
}
