// Streams a CSV file into import records, so a 100k-row file is never held as one string.
import { createReadStream } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import { parse, CsvError } from 'csv-parse';
import { RecordSourceError, type ImportRecord } from '../domain/imports.js';
import { CliFailure } from './output.js';

/** Fails early, before the database is opened, when the file cannot be read. */
export async function assertReadable(file: string): Promise<void> {
  try {
    await access(file, constants.R_OK);
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'EACCES';
    throw new CliFailure({ key: code === 'ENOENT' ? 'cli.errors.fileNotFound' : 'cli.errors.fileUnreadable', params: { file } });
  }
}

function newlines(fields: string[]): number {
  let count = 0;
  for (const field of fields) for (let i = field.indexOf('\n'); i !== -1; i = field.indexOf('\n', i + 1)) count += 1;
  return count;
}

function sourceError(error: CsvError): RecordSourceError {
  const line = typeof error.lines === 'number' && error.lines > 0 ? error.lines : 1;
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return new RecordSourceError(line, { key: 'cli.import.quoteNotClosed' });
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'INVALID_OPENING_QUOTE':
      return new RecordSourceError(line, { key: 'cli.import.badQuote' });
    default:
      return new RecordSourceError(line, { key: 'cli.import.malformed', params: { detail: error.message } });
  }
}

/**
 * The records of a CSV file (the header included) with the line each starts on. Column counts are
 * not enforced here, so the importer can report every short or long row instead of only the first.
 */
export async function* readCsvRecords(file: string): AsyncGenerator<ImportRecord> {
  const parser = createReadStream(file).pipe(
    parse({ bom: true, info: true, relax_column_count: true, skip_empty_lines: true }),
  );
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      // info.lines is the line a record ends on; quoted fields may span several lines.
      yield { line: info.lines - newlines(record), fields: record };
    }
  } catch (error) {
    if (error instanceof CsvError) throw sourceError(error);
    throw error;
  } finally {
    parser.destroy();
  }
}
