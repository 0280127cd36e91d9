// A real SMTP server on loopback that takes its time over each message, so that a worker can be
// stopped or killed while a batch is being sent. Same shape as startSmtpServer of
// test/mail/mail-helpers.ts, which the other worker tests use as it is.
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { TestSmtpServer } from '../../mail/mail-helpers.js';

export async function startSlowSmtpServer(options: { delayMs: number; port?: number }): Promise<TestSmtpServer> {
  const messages: TestSmtpServer['messages'] = [];
  const server = new SMTPServer({
    authOptional: true,
    disableReverseLookup: true,
    logger: false,
    closeTimeout: 200,
    onData(stream, session, callback) {
      const envelopeTo = session.envelope.rcptTo.map((r) => r.address);
      simpleParser(stream).then(
        (mail) =>
          setTimeout(() => {
            // Recorded when the server answers 250: from then on the mail counts as delivered.
            messages.push(Object.assign(mail, { envelopeTo }));
            callback();
          }, options.delayMs),
        (error: Error) => callback(error),
      );
    },
  });
  // A worker killed in the middle of a message resets its connection: smtp-server reports that as
  // an 'error' event, which is expected here (and would otherwise crash the test process).
  const errors: Error[] = [];
  const onError = (error: Error) => errors.push(error);
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      const address = server.server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
  server.removeAllListeners('error');
  server.on('error', onError);
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
