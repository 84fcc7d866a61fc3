import { z } from 'zod';
import { parseArgs } from '../command-args.js';
import type { CommandHandler } from '../command-handler.js';
import { OpsError } from '../ops-error.js';

/** `restart`: answers first, then an ordered stop and exit 75 (systemd starts the agent again). */
export const restartHandler: CommandHandler = {
  command: 'restart',
  stagger: 'after_answer',
  exclusive: true,
  async run(args, port, ctx) {
    parseArgs(z.strictObject({}), args);
    if (!port.canRestart()) throw new OpsError('internal', 'restart is not supported here: the agent does not run under `anchiale run`');
    return { data: { restarting: true, in_s: ctx.delayMs / 1000 }, afterAnswer: () => port.requestRestart() };
  },
};
