// Zone names: what Intl knows (canonicalTimeZone, supportedTimeZones) and how a zone is shown (timeZoneLabel).
import assert from 'node:assert/strict';
import { canonicalTimeZone, renamedTimeZones, supportedTimeZones, timeZoneLabel } from '../../src/domain/time-zones.js';

describe('domain: time zones', () => {
  it('shows a zone with spaces for underscores', () => {
    assert.equal(timeZoneLabel('America/Port_of_Spain'), 'America/Port of Spain');
    assert.equal(timeZoneLabel('Europe/Lisbon'), 'Europe/Lisbon');
    assert.equal(timeZoneLabel('UTC'), 'UTC');
  });

  it('shows a zone Intl lists under an old name under its current IANA name', () => {
    assert.equal(timeZoneLabel('Europe/Kiev'), 'Europe/Kyiv');
    assert.equal(timeZoneLabel('Asia/Calcutta'), 'Asia/Kolkata');
    assert.equal(timeZoneLabel('Asia/Saigon'), 'Asia/Ho Chi Minh');
  });

  it('renames only zones of this runtime that the new name resolves to, and both names store the same', () => {
    const listed = new Set(supportedTimeZones());
    for (const [old, current] of Object.entries(renamedTimeZones())) {
      // A runtime that lists the new name does not list the old one: the entry is then unused.
      if (!listed.has(old)) continue;
      assert.equal(canonicalTimeZone(current), old, `${current} is ${old} for this runtime's Intl`);
      assert.equal(canonicalTimeZone(old), old);
      assert.ok(!listed.has(current), `${current} is not listed beside ${old}`);
    }
  });

  it('refuses what is not a zone', () => {
    for (const raw of ['', 'Europe/Atlantis', 'Europe/Lisbon; DROP', 'x'.repeat(65), 42, null]) assert.equal(canonicalTimeZone(raw), undefined, String(raw));
    assert.equal(canonicalTimeZone('europe/lisbon'), 'Europe/Lisbon');
  });
});
