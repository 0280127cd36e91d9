// End to end: an account changes its e-mail address on the profile page; the worker's dispatcher
// sends the notice to the address it had before, through a real SMTP server.
import assert from 'node:assert/strict';
import { addAccount, createTestApp, loginAgent, TEST_PASSWORD, type TestApp } from '../helpers/test-app.js';
import { PUBLIC_URL, startSmtpDispatch, type SmtpDispatch } from '../mail/mail-helpers.js';

describe('web: changing the e-mail address tells the previous one', () => {
  let t: TestApp;
  let mail: SmtpDispatch;
  before(async () => {
    t = await createTestApp();
    mail = await startSmtpDispatch(t.db.knex, Date.now);
  });
  after(async () => {
    await mail.close();
    await t.close();
  });

  const dispatch = () => mail.dispatchOnce();

  it('sends the notice to the old address only, naming the new one; a refused change sends nothing', async () => {
    const account = await addAccount(t.domain);
    const newAddress = `new-${account.handle}@example.org`;
    const { agent, csrf } = await loginAgent(t.app, account.handle);

    await agent.post('/profile/email').type('form').send({ _csrf: csrf, email: newAddress, password: 'wrong password here' }).expect(422);
    await dispatch();
    assert.equal(mail.smtp.messages.length, 0, 'a refused change tells no one');

    await agent.post('/profile/email').type('form').send({ _csrf: csrf, email: newAddress, password: TEST_PASSWORD }).expect(303);
    await dispatch();
    assert.equal(mail.smtp.messages.length, 1);
    const [notice] = mail.smtp.messages;
    assert.deepEqual(notice?.envelopeTo, [account.email]);
    assert.equal(notice?.subject, `The e-mail address of your account ${account.handle} was changed`);
    assert.match(notice?.text ?? '', /Mail for this account now goes to n•••@example\.org\./);
    assert.ok(!(notice?.text ?? '').includes(newAddress) && !(notice?.html || '').includes(newAddress), 'the new address is masked');
    assert.match(notice?.text ?? '', new RegExp(`${PUBLIC_URL}/profile\\n`));
    const row = (await t.db.knex('outbox').where({ kind: 'account.emailChanged' }).first('status', 'recipient_address')) as { status: string; recipient_address: string };
    assert.deepEqual(row, { status: 'sent', recipient_address: account.email });
  });

  it('refuses an address with a hidden character: 422, the message at the field, the input kept, nothing changed or sent', async () => {
    const account = await addAccount(t.domain);
    const { agent, csrf } = await loginAgent(t.app, account.handle);
    // Looks like an address of the account's own domain; a right-to-left override hides the rest.
    const spoofed = `${account.handle}@example.test\u202egro.rehto`;
    const page = await agent.post('/profile/email').type('form').send({ _csrf: csrf, email: spoofed, password: TEST_PASSWORD }).expect(422);
    assert.match(page.text, /contains invisible or formatting characters/);
    assert.ok(page.text.includes(`value="${spoofed}"`), 'the input is kept');
    const stored = (await t.db.knex('accounts').where({ id: account.id }).first('email')) as { email: string };
    assert.equal(stored.email, account.email);
    assert.equal(Number(((await t.db.knex('outbox').where({ kind: 'account.emailChanged', recipient_address: account.email }).count({ n: '*' }).first()) as { n: number | string }).n), 0);
  });
});
