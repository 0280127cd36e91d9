// The shortcut translator must answer exactly what i18next answers, for every key of every
// catalogue, with and without placeholder values, and leave everything else to i18next.
import assert from 'node:assert/strict';
import { fastTranslator } from '../../src/i18n/fast-translator.js';
import { createI18n, LANGUAGES, loadCatalogue } from '../../src/i18n/index.js';

function flatten(value: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (typeof value === 'string') out.set(prefix, value);
  else if (value && typeof value === 'object') for (const [key, child] of Object.entries(value)) flatten(child, prefix ? `${prefix}.${key}` : key, out);
  return out;
}

const PLACEHOLDERS = /\{\{\s*([\w$]+)\s*\}\}/g;

describe('i18n: fastTranslator', () => {
  const i18n = createI18n();

  for (const language of LANGUAGES) {
    it(`answers like i18next on every ${language} key, plain and with tricky placeholder values`, () => {
      const fast = fastTranslator(i18n, language) as unknown as (...args: unknown[]) => string;
      const slow = i18n.getFixedT(language) as unknown as (...args: unknown[]) => string;
      const keys = [...flatten(loadCatalogue(language)).keys()].map((key) => key.replace(/_(zero|one|two|few|many|other)$/, ''));
      assert.ok(keys.length > 100);
      for (const key of new Set(keys)) {
        const text = String(slow(key));
        const names = [...text.matchAll(PLACEHOLDERS)].map((match) => match[1] as string);
        assert.equal(fast(key), text, key);
        assert.equal(fast(key), text, `${key} (remembered)`);
        for (const sample of ['Zé & <Ana> "1"', '$& $1 {{name}}', '', 42]) {
          const values = Object.fromEntries(names.map((name) => [name, sample]));
          assert.equal(fast(key, values), slow(key, values), `${key} with ${JSON.stringify(values)}`);
        }
        // A missing value and an object value are i18next's business.
        if (names.length > 0) assert.equal(fast(key, {}), slow(key, {}), `${key} without values`);
      }
    });
  }

  for (const language of LANGUAGES) {
    it(`picks the same ${language} plural form as i18next for every count`, () => {
      const fast = fastTranslator(i18n, language) as unknown as (...args: unknown[]) => string;
      const slow = i18n.getFixedT(language) as unknown as (...args: unknown[]) => string;
      const plural = [...flatten(loadCatalogue(language)).keys()].filter((key) => /_(zero|one|two|few|many|other)$/.test(key));
      assert.ok(plural.length > 5);
      for (const key of new Set(plural.map((k) => k.replace(/_(zero|one|two|few|many|other)$/, '')))) {
        for (const count of [0, 1, 2, 3, 5, 11, 21, 100, 1000, 1_000_000, 1.5, -1]) {
          const values = { count, name: 'x', handle: 'h', page: 2, total: 9 };
          assert.equal(fast(key, values), slow(key, values), `${key} count=${count}`);
        }
        assert.equal(fast(key, { count: '3' }), slow(key, { count: '3' }), `${key} with a string count`);
      }
    });
  }

  it('leaves defaults, contexts and unknown keys to i18next', () => {
    const fast = fastTranslator(i18n, 'en') as unknown as (...args: unknown[]) => string;
    const slow = i18n.getFixedT('en') as unknown as (...args: unknown[]) => string;
    for (const count of [0, 1, 2, 50]) assert.equal(fast('contacts.count', { count }), slow('contacts.count', { count }));
    assert.equal(fast('no.such.key', { defaultValue: 'fallback' }), 'fallback');
    assert.equal(fast('no.such.key'), slow('no.such.key'));
    assert.equal(fast('no.such.key', { name: 'x' }), slow('no.such.key', { name: 'x' }));
    assert.equal(fast('contacts.editLabel', { name: 'x', lng: 'pt-PT' }), slow('contacts.editLabel', { name: 'x', lng: 'pt-PT' }));
  });
});
