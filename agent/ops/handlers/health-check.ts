import { z } from 'zod';
import { parseArgs } from '../command-args.js';
import type { CommandHandler } from '../command-handler.js';

/** `health_check`: each check and `healthy` (the command succeeds even when the heater is not healthy). */
export const healthCheckHandler: CommandHandler = {
  command: 'health_check',
  async run(args, port) {
    parseArgs(z.strictObject({}), args);
    const h = port.health();
    return { data: { healthy: h.healthy, checks: h.checks } };
  },
};
