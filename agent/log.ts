import { pino, type Logger, type LevelWithSilent, type DestinationStream } from 'pino';

export type { Logger };

/** Paths redacted from every log line: secrets never reach a log. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'mqtt.password',
  'config.mqtt.password',
  'key',
  '*.key',
  'authorization',
  '*.authorization',
];

export interface LogOptions {
  level?: LevelWithSilent;
  /** Where lines go (default: stdout). Tests pass a stream to capture them. */
  destination?: DestinationStream;
  base?: Record<string, unknown>;
}

/** The root logger: JSON lines, ISO time, secrets redacted. Components take `log.child({component})`. */
export function createLogger(opts: LogOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: opts.base ?? {},
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** A logger that drops everything (tests, the simulator). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
