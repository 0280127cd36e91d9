// Streams a CSV file into import records, so a 100k-row file is never held as one string.
import { createReadStream } from 'node:fs';
import { access, constants, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { parse, CsvError } from 'csv-parse';
import type { Message } from '../domain/errors.js';
import { RecordSourceError, type ImportRecord } from '../domain/imports.js';
import { CliFailure } from './output.js';

/** Fails early, before the database is opened, when the file cannot be read. */
export async function assertReadable(file: string): Promise<void> {
  let isDirectory: boolean;
  try {
    await access(file, constants.R_OK);
    isDirectory = (await stat(file)).isDirectory();
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'EACCES';
    throw new CliFailure({ key: code === 'ENOENT' ? 'cli.errors.fileNotFound' : 'cli.errors.fileUnreadable', params: { file } });
  }
  // A directory is readable too, and would fail later with EISDIR. (A pipe, <(gunzip -c …), is fine.)
  if (isDirectory) throw new CliFailure({ key: 'cli.errors.fileUnreadable', params: { file } });
}

function newlines(fields: string[]): number {
  let count = 0;
  for (const field of fields) for (let i = field.indexOf('\n'); i !== -1; i = field.indexOf('\n', i + 1)) count += 1;
  return count;
}

function lineOf(error: CsvError): number {
  return typeof error.lines === 'number' && error.lines > 0 ? error.lines : 1;
}

function problemOf(error: CsvError): Message {
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return { key: 'cli.import.quoteNotClosed' };
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'INVALID_OPENING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return { key: 'cli.import.badQuote' };
    default:
      return { key: 'cli.import.malformed', params: { detail: error.message } };
  }
}

/**
 * The records of a CSV file (the header included) with the line each starts on. Column counts are
 * not enforced here, so the importer can report every short or long row. A misplaced quote ends
 * the records with one carrying the problem: the rows before it are still checked and reported.
 */
export async function* readCsvRecords(file: string): AsyncGenerator<ImportRecord> {
  const skipped: ImportRecord[] = [];
  const parser = parse({
    bom: true,
    info: true,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    on_skip: (error: CsvError | undefined) => {
      if (error) skipped.push({ line: lineOf(error), fields: [], problem: problemOf(error) });
      return undefined;
    },
  });
  // pipeline() (unlike pipe()) hands a read error of the file to the parser, so the loop sees it.
  const done = pipeline(createReadStream(file), parser).catch(() => undefined);
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      // info.lines is the line a record ends on; quoted fields may span several lines.
      const line = info.lines - newlines(record);
      // The parser runs ahead of this loop, so the records before the unreadable one still come
      // first. After it the parser's idea of where quotes open and close is unreliable: stop there.
      const unreadable = skipped[0];
      if (unreadable && unreadable.line < line) {
        yield unreadable;
        return;
      }
      yield { line, fields: record };
    }
    if (skipped[0]) yield skipped[0];
  } catch (error) {
    if (error instanceof CsvError) throw new RecordSourceError(lineOf(error), problemOf(error));
    throw error;
  } finally {
    parser.destroy();
    await done;
  }
}
