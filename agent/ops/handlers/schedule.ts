import { z } from 'zod';
import { parseArgs } from '../command-args.js';
import type { CommandHandler } from '../command-handler.js';

/** `schedule` (get): the entries, the one active now and the next transition. */
export const scheduleHandler: CommandHandler = {
  command: 'schedule',
  async run(args, port) {
    parseArgs(z.strictObject({}), args);
    return { data: { ...port.schedule() } };
  },
};
