import { z } from 'zod';
import { parseArgs } from '../command-args.js';
import type { CommandHandler } from '../command-handler.js';

const PRESETS = ['none', 'frost', 'eco', 'comfort', 'boost'] as const;

/** `preset {preset}`: none | frost | eco | comfort | boost, persisted like set/preset. */
export const presetHandler: CommandHandler = {
  command: 'preset',
  async run(args, port) {
    const { preset } = parseArgs(z.strictObject({ preset: z.enum(PRESETS, `must be one of ${PRESETS.join('|')}`) }), args);
    await port.command({ kind: 'preset', preset });
    return { data: { preset } };
  },
};
