import { z } from 'zod';
import { parseArgs } from '../command-args.js';
import type { CommandHandler } from '../command-handler.js';

/** Longest drain timeout accepted (s). */
export const MAX_DRAIN_TIMEOUT_S = 86_400;

const schema = z.strictObject({
  timeout_s: z.number('must be a number of seconds').positive('must be positive').max(MAX_DRAIN_TIMEOUT_S, `must be at most ${MAX_DRAIN_TIMEOUT_S}`).nullable().optional(),
});

/** `drain {timeout_s?}`: stop accepting jobs, finish active ones (within the timeout), then idle. */
export const drainHandler: CommandHandler = {
  command: 'drain',
  async run(args, port) {
    const a = parseArgs(schema, args);
    const { timeout_s } = await port.drain(a.timeout_s ?? null);
    return { data: { drain: true, timeout_s } };
  },
};
