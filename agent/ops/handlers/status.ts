import { z } from 'zod';
import { parseArgs } from '../command-args.js';
import type { CommandHandler } from '../command-handler.js';

/** `status`: the state document, the operator's intent and the agent's own facts. */
export const statusHandler: CommandHandler = {
  command: 'status',
  async run(args, port) {
    parseArgs(z.strictObject({}), args);
    return { data: { ...port.status() } };
  },
};
