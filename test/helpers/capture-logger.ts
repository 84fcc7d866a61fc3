/** A real pino logger at debug level whose JSON lines are kept in memory, parsed, for assertions. */
import { createLogger, type Logger } from '../../agent/log.js';

export interface LogLine {
  level: string;
  msg: string;
  component?: string;
  [k: string]: unknown;
}

export function captureLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) } });
  return { log, lines };
}
