// flashParts (src/web/middleware/locals.ts): a flash message cut into text and the dates the view
// prints as <time> elements.
import assert from 'node:assert/strict';
import { flashParts } from '../../src/web/middleware/locals.js';

const CATALOGUE: Record<string, string> = {
  plain: 'Saved.',
  expiry: 'Request {{id}} registered; it expires on {{expires}}.',
  two: '{{from}} until {{until}}',
};

/** Fills {{placeholders}} the way the app's translator does. */
function t(key: string, params: Record<string, unknown> = {}): string {
  return (CATALOGUE[key] ?? key).replace(/\{\{(\w+)\}\}/g, (_, name: string) => String(params[name] ?? ''));
}

describe('web: flashParts', () => {
  it('gives a message without dates as one text part', () => {
    assert.deepEqual(flashParts(t, { type: 'success', key: 'plain' }), [{ text: 'Saved.' }]);
  });

  it('cuts the text around each date, keeping the other placeholders filled', () => {
    assert.deepEqual(flashParts(t, { type: 'success', key: 'expiry', params: { id: 7 }, times: { expires: 1_800_000_000_000 } }), [
      { text: 'Request 7 registered; it expires on ' },
      { at: 1_800_000_000_000 },
      { text: '.' },
    ]);
  });

  it('leaves out empty text between dates, and at the ends', () => {
    assert.deepEqual(flashParts(t, { type: 'info', key: 'two', params: {}, times: { from: 1, until: 2 } }), [{ at: 1 }, { text: ' until ' }, { at: 2 }]);
  });

  it('keeps a parameter that looks like a mark but names no date as text', () => {
    const parts = flashParts(t, { type: 'success', key: 'expiry', params: { id: '\uE000expires\uE000' } });
    assert.deepEqual(parts, [{ text: 'Request ' }, { text: '\uE000expires\uE000' }, { text: ' registered; it expires on .' }]);
    // Names every object answers to are no dates either.
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const mark = `\uE000${name}\uE000`;
      assert.deepEqual(flashParts(t, { type: 'success', key: 'expiry', params: { id: mark }, times: { expires: 5 } }), [
        { text: 'Request ' },
        { text: mark },
        { text: ' registered; it expires on ' },
        { at: 5 },
        { text: '.' },
      ]);
    }
  });

  it('takes date names of any characters', () => {
    assert.deepEqual(flashParts(t, { type: 'info', key: 'two', times: { from: 1 }, params: { until: 'later' } }), [{ at: 1 }, { text: ' until later' }]);
    const custom = (key: string, params: Record<string, unknown> = {}) => `due ${String(params['due_at-2'])}`;
    assert.deepEqual(flashParts(custom, { type: 'info', key: 'x', times: { 'due_at-2': 9 } }), [{ text: 'due ' }, { at: 9 }]);
  });

  it('shows a flash stored before dates had parts (text in params, no times) as it was written', () => {
    assert.deepEqual(flashParts(t, { type: 'success', key: 'expiry', params: { id: 3, expires: '1 Dec 2026, 10:50 WET' } }), [
      { text: 'Request 3 registered; it expires on 1 Dec 2026, 10:50 WET.' },
    ]);
  });
});
