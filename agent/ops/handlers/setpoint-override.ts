import { z } from 'zod';
import { parseArgs } from '../command-args.js';
import type { CommandHandler } from '../command-handler.js';
import { invalidField } from '../ops-error.js';

const schema = z.strictObject({
  setpoint_c: z.number('must be a number (°C)'),
  duration_s: z.number('must be a number of seconds or null').positive('must be positive').nullable().optional(),
});

/**
 * `setpoint_override {setpoint_c, duration_s?}`: within the frost preset .. safety.max_room_temp_c
 * (and thermostat.min/max_setpoint_c); duration at most thermostat.override_s. In auto it is an
 * override (ends after duration_s, default override_s, at the next schedule transition or when the
 * setpoint input changes), in heat the manual setpoint, in off kept for when heat is switched on.
 */
export const setpointOverrideHandler: CommandHandler = {
  command: 'setpoint_override',
  async run(args, port) {
    const a = parseArgs(schema, args);
    const b = port.bounds();
    if (a.setpoint_c < b.setpointMinC || a.setpoint_c > b.setpointMaxC) {
      throw invalidField('setpoint_c', `${a.setpoint_c} is outside [${b.setpointMinC}, ${b.setpointMaxC}] °C (frost preset .. safety.max_room_temp_c, within thermostat.min/max_setpoint_c)`);
    }
    const durationS = a.duration_s ?? null;
    if (durationS !== null && durationS > b.overrideMaxS) {
      throw invalidField('duration_s', `${durationS} s is longer than thermostat.override_s (${b.overrideMaxS} s)`);
    }
    const mode = port.operatorMode();
    await port.command({ kind: 'setpoint', setpointC: a.setpoint_c, durationS });
    return {
      data: {
        setpoint_c: a.setpoint_c,
        duration_s: mode === 'auto' ? (durationS ?? b.overrideMaxS) : null,
        applies_as: mode === 'auto' ? 'override' : 'manual_setpoint',
      },
    };
  },
};
