import type { InputName, RoomInputs } from '../core/types.js';
import type { Clock } from '../ports/clock.js';

/**
 * The latest accepted value of each input, stamped on the monotonic clock. With a payload time
 * (timestamp_path) the age counts from that time, so a bridge that republishes a cached value
 * does not make it look fresh.
 */
export class InputStore {
  private readings: RoomInputs = { room_temperature: null, setpoint: null, outdoor_temperature: null, wall_power: null, window_open: null };

  constructor(private readonly clock: Clock) {}

  set(name: InputName, value: number | boolean, sourceTimeMs: number | null): void {
    const nowS = this.clock.monoS();
    const ageS = sourceTimeMs === null ? 0 : Math.max(0, (this.clock.wallMs() - sourceTimeMs) / 1000);
    const reading = { value, atMonoS: nowS - ageS };
    if (name === 'window_open') this.readings.window_open = { value: value === true, atMonoS: reading.atMonoS };
    else if (typeof value === 'number') this.readings[name] = { value, atMonoS: reading.atMonoS };
  }

  snapshot(): RoomInputs {
    return { ...this.readings };
  }

  value(name: InputName): number | boolean | null {
    return this.readings[name]?.value ?? null;
  }
}
