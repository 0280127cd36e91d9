// Dates in the reader's language and zone: the formats, the zone names, and formatters built once.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dateTimeFormatter, formatDateTime, intlLocaleOf, PAGE_DATE_OPTIONS, timeZoneName } from '../../src/i18n/dates.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const WINTER = Date.UTC(2026, 10, 24, 10, 15);
const SUMMER = Date.UTC(2026, 6, 1, 12, 0);

/** Counts the Intl.DateTimeFormat objects built while `run` runs. */
function constructions(run: () => void): number {
  const original = Intl.DateTimeFormat;
  let count = 0;
  const counting = function (this: unknown, ...args: ConstructorParameters<typeof Intl.DateTimeFormat>) {
    count += 1;
    return new original(...args);
  } as unknown as typeof Intl.DateTimeFormat;
  Object.assign(counting, original);
  Intl.DateTimeFormat = counting;
  try {
    run();
  } finally {
    Intl.DateTimeFormat = original;
  }
  return count;
}

describe('i18n: dates', () => {
  it('formats in the given zone, with its short name, summer and winter', () => {
    assert.equal(formatDateTime('en', WINTER, 'Europe/Lisbon'), '24 Nov 2026, 10:15 WET');
    assert.equal(formatDateTime('en', SUMMER, 'Europe/Lisbon'), '1 Jul 2026, 13:00 WEST');
    assert.equal(formatDateTime('en', WINTER, 'Asia/Tokyo'), '24 Nov 2026, 19:15 GMT+9');
    assert.equal(formatDateTime('en', WINTER, 'America/New_York'), '24 Nov 2026, 05:15 GMT-5');
    assert.equal(formatDateTime('en', WINTER, 'UTC'), '24 Nov 2026, 10:15 UTC');
  });

  it('formats in the reader\'s language: British English and European Portuguese', () => {
    assert.equal(intlLocaleOf('en'), 'en-GB');
    assert.equal(intlLocaleOf('pt-PT'), 'pt-PT');
    assert.equal(formatDateTime('pt-PT', WINTER, 'Europe/Lisbon'), '24/11/2026, 10:15 WET');
    assert.equal(formatDateTime('pt-PT', WINTER, 'Asia/Tokyo'), '24/11/2026, 19:15 GMT+9');
    assert.equal(formatDateTime('en', SUMMER, 'Europe/Lisbon', 'mail'), '1 July 2026 at 13:00');
    assert.match(formatDateTime('pt-PT', SUMMER, 'Europe/Lisbon', 'mail'), /^1 de julho de 2026.* 13:00$/);
  });

  it('names a zone in the reader\'s language as it was at that moment, the IANA name when Intl only has an offset', () => {
    assert.equal(timeZoneName('en', 'Europe/Lisbon', WINTER), 'Western European Time');
    assert.equal(timeZoneName('en', 'Europe/Lisbon', SUMMER), 'Western European Time', 'generic: the same in summer');
    assert.equal(timeZoneName('pt-PT', 'Europe/Lisbon', WINTER), 'Hora da Europa Ocidental');
    assert.equal(timeZoneName('en', 'Asia/Tokyo', WINTER), 'Japan Standard Time');
    assert.match(timeZoneName('en', 'Europe/Lisbon', Date.UTC(1970, 0, 1)), /^Central European/, 'Portugal was on CET then');
    assert.equal(timeZoneName('en', 'UTC', WINTER), 'UTC');
  });

  it('builds one formatter per language, zone and style, and reuses it', () => {
    const first = constructions(() => {
      for (let i = 0; i < 100; i += 1) formatDateTime('en', WINTER + i * 60_000, 'Pacific/Chatham');
    });
    assert.equal(first, 1, 'one formatter for a hundred dates');
    assert.equal(constructions(() => formatDateTime('en', WINTER, 'Pacific/Chatham')), 0, 'kept for later calls');
    assert.equal(dateTimeFormatter('en', 'Pacific/Chatham'), dateTimeFormatter('en', 'Pacific/Chatham'));
    assert.notEqual(dateTimeFormatter('en', 'Pacific/Chatham'), dateTimeFormatter('pt-PT', 'Pacific/Chatham'));
    assert.notEqual(dateTimeFormatter('en', 'Pacific/Chatham'), dateTimeFormatter('en', 'Pacific/Fiji'));
    assert.notEqual(dateTimeFormatter('en', 'Pacific/Chatham'), dateTimeFormatter('en', 'Pacific/Chatham', 'mail'));
    assert.equal(dateTimeFormatter('pt-PT', 'Pacific/Fiji').resolvedOptions().timeZone, 'Pacific/Fiji');
    assert.equal(
      constructions(() => {
        for (let i = 0; i < 10; i += 1) timeZoneName('en', 'Pacific/Chatham', WINTER);
      }),
      1,
      'zone names too',
    );
  });

  it('the browser formats dates with the same options as the server (public/js/enhance.js)', () => {
    const script = readFileSync(path.join(root, 'public', 'js', 'enhance.js'), 'utf8');
    const literal = /var DATE_OPTIONS = (\{[^}]*\});/.exec(script)?.[1];
    assert.ok(literal, 'DATE_OPTIONS not found in enhance.js');
    const options = JSON.parse(literal.replace(/'/g, '"').replace(/(\w+):/g, '"$1":')) as Intl.DateTimeFormatOptions;
    assert.deepEqual(options, { ...PAGE_DATE_OPTIONS });
  });
});
