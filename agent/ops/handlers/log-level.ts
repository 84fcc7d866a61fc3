import { z } from 'zod';
import { LOG_LEVELS } from '../../config/schema.js';
import { parseArgs } from '../command-args.js';
import type { CommandHandler } from '../command-handler.js';

/** `log_level {level}`: until the next restart or reload (then log.level of the file again). */
export const logLevelHandler: CommandHandler = {
  command: 'log_level',
  async run(args, port) {
    const { level } = parseArgs(z.strictObject({ level: z.enum(LOG_LEVELS, `must be one of ${LOG_LEVELS.join('|')}`) }), args);
    const { previous } = port.setLogLevel(level);
    return { data: { level, previous } };
  },
};
