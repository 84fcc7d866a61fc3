import { z } from 'zod';
import { parseArgs } from '../command-args.js';
import type { CommandHandler } from '../command-handler.js';

const MODES = ['off', 'heat', 'auto'] as const;

/** `mode {mode}`: off | heat | auto, persisted like set/mode. */
export const modeHandler: CommandHandler = {
  command: 'mode',
  async run(args, port) {
    const { mode } = parseArgs(z.strictObject({ mode: z.enum(MODES, `must be one of ${MODES.join('|')}`) }), args);
    await port.command({ kind: 'mode', mode });
    return { data: { mode } };
  },
};
