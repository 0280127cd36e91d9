import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Query-string secrets (mail tokens) are cut out of every URL before it is logged. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:token|_csrf|password)=)[^&#]*/gi, '$1[redacted]');
}

export function createLogger(options: { level: string; name: string; destination?: DestinationStream }): Logger {
  const pinoOptions = {
    name: options.name,
    level: options.level,
    redact: {
      paths: ['req.headers.cookie', 'res.headers["set-cookie"]', 'token', 'password', '*.token', '*.password', 'sessionId'],
      censor: '[redacted]',
    },
  };
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}
