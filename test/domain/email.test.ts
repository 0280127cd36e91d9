import assert from 'node:assert/strict';
import { parseEmail } from '../../src/domain/email.js';

describe('domain: e-mail addresses', () => {
  it('takes plain and internationalised addresses, trimmed', () => {
    for (const email of ['name@example.com', 'first.last+tag@sub.example.pt', 'josé@exemplo.pt', '用户@例子.广告', 'ชื่อ@ตัวอย่าง.ไทย']) {
      assert.deepEqual(parseEmail(`  ${email} `), { email });
    }
  });

  it('refuses what is not an address', () => {
    for (const email of ['nope', 'a@b', 'two@@example.test', 'a b@example.test', 'x@example.test\r\nBcc: y@example.test', `${'a'.repeat(250)}@example.test`]) {
      assert.deepEqual(parseEmail(email), { error: { key: 'errors.email.format' } }, JSON.stringify(email));
    }
    assert.deepEqual(parseEmail('   '), { error: { key: 'errors.email.required' } });
    assert.deepEqual(parseEmail(undefined), { error: { key: 'errors.email.required' } });
  });

  it('refuses invisible and formatting characters, which make one address look like another', () => {
    const hidden = {
      'zero-width space': '\u200b',
      'zero-width joiner': '\u200d',
      'right-to-left override': '\u202e',
      'left-to-right mark': '\u200e',
      'first-strong isolate': '\u2068',
      'soft hyphen': '\u00ad',
      'C1 control (next line)': '\u0085',
      'private use': '\ue000',
      'lone surrogate': '\ud800',
      'combining grapheme joiner': '\u034f',
      'variation selector': '\ufe0f',
      'Hangul filler': '\u3164',
      'halfwidth Hangul filler': '\uffa0',
      'blank Braille pattern': '\u2800',
      'supplementary variation selector': '\u{e0100}',
    };
    for (const [what, character] of Object.entries(hidden)) {
      for (const email of [`ad${character}min@example.com`, `admin@exam${character}ple.com`]) {
        assert.deepEqual(parseEmail(email), { error: { key: 'errors.email.invisible' } }, what);
      }
    }
  });
});
