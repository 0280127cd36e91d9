// Entry point of the operator CLI: `npm run cli -- <command> [options]` (`npm run cli -- --help`).
import { runCli } from './program.js';

// exitCode rather than process.exit(): pending output is flushed before the process ends.
process.exitCode = await runCli(process.argv.slice(2));
