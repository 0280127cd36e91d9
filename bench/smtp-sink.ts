// An SMTP server on loopback that accepts every message and throws it away: the far end of the
// mail-dispatch benchmark, in its own process so it does not compete with the sender's event loop.
// Started by mail-dispatch.ts with an IPC channel: it sends { port } once listening and answers
// { count: true } with { received }.
import { SMTPServer } from 'smtp-server';

let received = 0;

const server = new SMTPServer({
  authOptional: true,
  disableReverseLookup: true,
  logger: false,
  // Large enough for every pooled connection of the worker and of the baseline at once.
  maxClients: 100,
  closeTimeout: 200,
  onData(stream, _session, callback) {
    stream.on('data', () => undefined);
    stream.on('end', () => {
      received += 1;
      callback();
    });
  },
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.send?.({ port });
});

process.on('message', (message: { count?: boolean }) => {
  if (message.count) process.send?.({ received });
});
process.on('disconnect', () => server.close(() => process.exit(0)));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
