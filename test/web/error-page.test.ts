import assert from 'node:assert/strict';
import { SESSIONS_TABLE } from '../../src/domain/sessions.js';
import { addAccount, createTestApp, loginAgent, type TestApp } from '../helpers/test-app.js';

describe('web: the error page', () => {
  let t: TestApp;
  const logLines: string[] = [];
  before(async () => {
    // No session cache: the store is asked on every request.
    t = await createTestApp({ logLines, sessionCache: { readMs: 0, touchIntervalMs: 0 } });
  });
  after(() => t.close());

  it('is a page, in the default language, for an error raised before the page is set up (a failing session store)', async () => {
    const account = await addAccount(t.domain);
    const { agent } = await loginAgent(t.app, account.handle);
    await t.db.knex.schema.renameTable(SESSIONS_TABLE, 'sessions_away');
    try {
      const response = await agent.get('/contacts').expect(500);
      assert.match(String(response.headers['content-type']), /^text\/html/);
      assert.equal(response.headers['cache-control'], 'no-store');
      assert.match(response.text, /<html lang="en"/);
      assert.match(response.text, /Unexpected error/);
      assert.match(response.text, /Something went wrong on our side/);
      // Nothing of the failure reaches the reader.
      assert.doesNotMatch(response.text, /sessions|SQLITE|relation|at .*\.(js|ts):\d+/);
      assert.ok(logLines.some((line) => line.includes('request failed')));
    } finally {
      await t.db.knex.schema.renameTable('sessions_away', SESSIONS_TABLE);
    }
    await agent.get('/contacts').expect(200);
  });
});
