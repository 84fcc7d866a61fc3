import { z } from 'zod';
import { parseArgs } from '../command-args.js';
import type { CommandHandler } from '../command-handler.js';

/** `resume`: end a drain (jobs are accepted again when the room wants heat). */
export const resumeHandler: CommandHandler = {
  command: 'resume',
  async run(args, port) {
    parseArgs(z.strictObject({}), args);
    await port.command({ kind: 'resume' });
    return { data: { drain: false } };
  },
};
