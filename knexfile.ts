// Used by the knex CLI (`npx knex migrate:status` etc.); the application itself calls createKnex().
import { loadConfig } from './src/config.js';
import { knexConfig } from './src/db/knex.js';

const config = loadConfig();
export default knexConfig({ url: config.databaseUrl, client: config.databaseClient });
