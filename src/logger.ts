import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * A secret's parameter in a query string, also inside a parameter's percent-encoded value (a mail
 * link's token rides in `/login?next=%2Frequests%2F5%2Fconfirm%3Ftoken%3D…`, once or more encoded):
 * the separator and the `=`, plain or encoded, then the value up to the next separator.
 */
const QUERY_SECRET = /((?:[?&]|%(?:25)*3F|%(?:25)*26)(?:token|_csrf|password)(?:=|%(?:25)*3D))(?:(?!%(?:25)*26)[^&#])*/gi;

/** Query-string secrets (mail tokens) are cut out of every URL before it is logged. */
export function redactUrl(url: string): string {
  return url.replace(QUERY_SECRET, '$1[redacted]');
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
