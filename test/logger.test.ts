import assert from 'node:assert/strict';
import { redactUrl } from '../src/logger.js';

describe('redactUrl', () => {
  it('cuts the secrets out of a query string and keeps the rest', () => {
    assert.equal(redactUrl('/requests/5/confirm?token=abc-DEF_123&lang=pt'), '/requests/5/confirm?token=[redacted]&lang=pt');
    assert.equal(redactUrl('/x?a=1&_csrf=zz&PASSWORD=secret#top'), '/x?a=1&_csrf=[redacted]&PASSWORD=[redacted]#top');
    assert.equal(redactUrl('/contacts?q=token'), '/contacts?q=token');
  });

  it('cuts them out of a way back carried, percent-encoded once or twice, in another parameter', () => {
    assert.equal(
      redactUrl('/login?next=%2Frequests%2F5%2Fconfirm%3Ftoken%3Dabc-DEF_123%26lang%3Dpt&x=1'),
      '/login?next=%2Frequests%2F5%2Fconfirm%3Ftoken%3D[redacted]%26lang%3Dpt&x=1',
    );
    assert.equal(
      redactUrl('/login?next=%2Flogin%253Fnext%253D%25252Frequests%25252F5%25252Fconfirm%25253Ftoken%25253Dabc'),
      '/login?next=%2Flogin%253Fnext%253D%25252Frequests%25252F5%25252Fconfirm%25253Ftoken%25253D[redacted]',
    );
    assert.equal(redactUrl('/login?next=%2Fx%3Fa%3D1%26token%3Dabc'), '/login?next=%2Fx%3Fa%3D1%26token%3D[redacted]');
  });
});
