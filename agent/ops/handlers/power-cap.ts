import { z } from 'zod';
import { parseArgs } from '../command-args.js';
import type { CommandHandler } from '../command-handler.js';
import { invalidField } from '../ops-error.js';

const schema = z.strictObject({ watts: z.number('must be a number of W or null').nullable() });

/** `power_cap {watts|null}`: an operator ceiling within [card minimum, min(card maximum, site ceiling)], or none. */
export const powerCapHandler: CommandHandler = {
  command: 'power_cap',
  async run(args, port) {
    if (!('watts' in args)) throw invalidField('watts', 'required (a number of W, or null to remove the cap)');
    const { watts } = parseArgs(schema, args);
    if (watts !== null) {
      const b = port.bounds();
      if (watts < b.powerCapMinW || watts > b.powerCapMaxW) {
        throw invalidField('watts', `${watts} W is outside [${b.powerCapMinW}, ${b.powerCapMaxW}] W (card minimum, site ceiling)`);
      }
    }
    const capped = watts === null ? null : Math.round(watts);
    await port.command({ kind: 'power_cap', watts: capped });
    return { data: { power_cap_w: capped } };
  },
};
