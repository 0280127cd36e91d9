import { Router } from 'express';
import type { Knex } from 'knex';

export function healthRoutes(knex: Knex): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  router.get('/readyz', async (_req, res) => {
    try {
      await knex.raw('SELECT 1');
      res.type('text/plain').send('ready');
    } catch {
      res.status(503).type('text/plain').send('database unavailable');
    }
  });
  return router;
}
