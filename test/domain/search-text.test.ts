import assert from 'node:assert/strict';
import { foldForSearch } from '../../src/domain/search-text.js';

describe('domain: search text folding', () => {
  it('folds case and accents, in any script', () => {
    assert.equal(foldForSearch('Música-LOJA.pt'), 'musica-loja.pt');
    assert.equal(foldForSearch('ÉCOLE Été'), 'ecole ete');
    assert.equal(foldForSearch('Ångström São João'), 'angstrom sao joao');
    assert.equal(foldForSearch('ΑΘΗΝΑ'), foldForSearch('αθηνα'));
    assert.equal(foldForSearch('ПРИВЕТ'), 'привет');
  });

  it('gives composed and decomposed spellings, and compatibility forms, one form', () => {
    assert.equal(foldForSearch('e\u0301'), foldForSearch('\u00e9'));
    assert.equal(foldForSearch('ﬁle'), 'file');
    assert.equal(foldForSearch('ＡＢＣ'), 'abc');
    assert.equal(foldForSearch('İstanbul'), 'istanbul');
  });

  it('folds case rather than lower-casing: ß, long s and the Greek final sigma', () => {
    assert.equal(foldForSearch('Straße'), foldForSearch('STRASSE'));
    assert.equal(foldForSearch('ſ'), 's');
    assert.equal(foldForSearch('ΑΘΗΝΑΣ'), 'αθηνασ');
    assert.equal(foldForSearch('αθηνας'), 'αθηνασ');
    assert.equal(foldForSearch('ΟΔΥΣΣΕΑΣ-shop'), 'οδυσσεασ-shop');
  });

  it('leaves what is not a letter alone', () => {
    assert.equal(foldForSearch('100%_sure\\.net'), '100%_sure\\.net');
    assert.equal(foldForSearch(''), '');
  });
});
