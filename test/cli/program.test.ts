import assert from 'node:assert/strict';
import { runCli } from './run-cli.js';

// Outcomes that need no working database: help, configuration errors and unexpected failures.
describe('cli program', () => {
  it('prints the help with exit code 0, and the help on stderr with 2 when no command is given', async () => {
    const help = await runCli('sqlite::memory:', ['--help']);
    assert.equal(help.code, 0);
    for (const command of ['accounts:add', 'accounts:import', 'accounts:password', 'accounts:billing', 'services:add', 'services:import', 'requests:list']) {
      assert.match(help.stdout, new RegExp(command));
    }
    const none = await runCli('sqlite::memory:', []);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /Usage:/);
  });

  it('reports a configuration error in one line', async () => {
    const result = await runCli('mysql://somewhere/db', ['requests:list']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^Configuration error: DATABASE_URL="mysql:\/\/somewhere\/db" is not supported/);
  });

  it('reports an unexpected error briefly, with the stack only under --debug', async () => {
    const unreachable = 'postgres://postgres@127.0.0.1:1/nothing';
    const brief = await runCli(unreachable, ['requests:list']);
    assert.equal(brief.code, 1);
    assert.match(brief.stderr, /^Unexpected error: /);
    assert.match(brief.stderr, /--debug/);
    assert.doesNotMatch(brief.stderr, /^\s+at /m);
    const debug = await runCli(unreachable, ['--debug', 'requests:list']);
    assert.equal(debug.code, 1);
    assert.match(debug.stderr, /^\s+at /m);
  });
});
