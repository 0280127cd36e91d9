// What the CLI prints: translated messages, error reports with their exit codes, and tables.
import { ConfigError } from '../config.js';
import { DomainError, ValidationError, type Message } from '../domain/errors.js';
import { ImportError, type ImportProblem } from '../domain/imports.js';
import { createI18n, type Language } from '../i18n/index.js';

export type Translate = (key: string, params?: Record<string, string | number>) => string;

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

export const processIo: Io = {
  out: (line) => void process.stdout.write(line + '\n'),
  err: (line) => void process.stderr.write(line + '\n'),
};

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** The command line itself is wrong (missing option, conflicting flags…): exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(readonly detail: Message) {
    super(detail.key);
  }
}

/** A failure the operator can fix (e.g. an unreadable file), explained by a message: exit code 1. */
export class CliFailure extends Error {
  override name = 'CliFailure';
  constructor(readonly detail: Message) {
    super(detail.key);
  }
}

export function createTranslate(language: Language): Translate {
  const fixed = createI18n().getFixedT(language);
  return (key, params) => fixed(key, params ?? {});
}

export function translateMessage(t: Translate, message: Message): string {
  return t(message.key, message.params);
}

export function formatProblem(t: Translate, problem: ImportProblem): string {
  const message = translateMessage(t, problem.message);
  return problem.field
    ? t('cli.import.problemField', { line: problem.line, field: problem.field, message })
    : t('cli.import.problem', { line: problem.line, message });
}

/** Prints an error the way an operator can act on it and returns the exit code. */
export function reportError(error: unknown, io: Io, t: Translate, options: { debug: boolean; file?: string }): number {
  if (error instanceof UsageError) {
    io.err(translateMessage(t, error.detail));
    io.err(t('cli.usage.seeHelp'));
    return EXIT_USAGE;
  }
  if (error instanceof CliFailure) {
    io.err(translateMessage(t, error.detail));
    return EXIT_FAILURE;
  }
  if (error instanceof ImportError) {
    io.err(t('cli.import.failed', { problems: error.problems.length, file: options.file ?? '' }));
    // One write for the whole list: a broken 100k-row file can have hundreds of thousands of problems.
    if (error.problems.length > 0) io.err(error.problems.map((problem) => formatProblem(t, problem)).join('\n'));
    return EXIT_FAILURE;
  }
  if (error instanceof ValidationError) {
    for (const [field, message] of Object.entries(error.fields)) io.err(`${field}: ${translateMessage(t, message)}`);
    return EXIT_FAILURE;
  }
  if (error instanceof DomainError) {
    io.err(t(error.messageKey, error.params));
    return EXIT_FAILURE;
  }
  if (error instanceof ConfigError) {
    io.err(t('cli.errors.config', { message: error.message }));
    return EXIT_FAILURE;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.err(t('cli.errors.unexpected', { message }));
  if (options.debug && error instanceof Error && error.stack) io.err(error.stack);
  else io.err(t('cli.errors.debugHint'));
  return EXIT_FAILURE;
}

/** Epoch milliseconds as `YYYY-MM-DD HH:MM` in UTC: unambiguous whatever the server's time zone. */
export function formatTimestamp(ms: number | null): string {
  if (ms === null) return '';
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

function width(text: string): number {
  return [...text].length;
}

/** A plain-text table: a header row, a rule, then the rows, columns padded to their widest cell. */
export function formatTable(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((header, i) => Math.max(width(header), ...rows.map((row) => width(row[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell + ' '.repeat((widths[i] ?? 0) - width(cell)))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}
