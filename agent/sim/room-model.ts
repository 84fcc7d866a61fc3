/**
 * The room: a 2R2C thermal network (spec/simulation.md "Room: 2R2C"), integrated with forward Euler.
 *
 *   Ci·dTi/dt = (Tm − Ti)/Rim + (To − Ti)/Rio + Q_unit + Q_base + Q_gains
 *   Cm·dTm/dt = (Ti − Tm)/Rim + (To − Tm)/Rmo
 *
 * Ti room air, Tm building mass, To outdoor (°C). Pure: no I/O, no clock.
 */

export interface RoomParams {
  /** Air (and furniture) heat capacity, J/K. */
  ciJPerK: number;
  /** Building mass heat capacity, J/K. */
  cmJPerK: number;
  /** Air ↔ mass resistance, K/W. */
  rimKPerW: number;
  /** Air ↔ outdoor resistance (ventilation, windows), K/W. */
  rioKPerW: number;
  /** Mass ↔ outdoor resistance (walls), K/W. */
  rmoKPerW: number;
}

/** Spec defaults: a 20 m² office, medium construction. */
export const DEFAULT_ROOM_PARAMS: Readonly<RoomParams> = Object.freeze({
  ciJPerK: 2.0e5,
  cmJPerK: 3.3e6,
  rimKPerW: 0.0054,
  rioKPerW: 0.1,
  rmoKPerW: 0.067,
});

export interface RoomInputsW {
  /** Outdoor temperature, °C. */
  toC: number;
  /** The heater unit's wall power (all of it ends up as heat in the room), W. */
  qUnitW: number;
  /** The building's main heating, W. */
  qBaseW: number;
  /** People, equipment, sun, W. */
  qGainsW: number;
}

/**
 * Largest forward-Euler step (s) for which the explicit integration does not oscillate
 * (each node's own time constant: C / Σ 1/R). Steps must stay below it.
 */
export function maxStableStepS(p: RoomParams): number {
  const tauI = p.ciJPerK / (1 / p.rimKPerW + 1 / p.rioKPerW);
  const tauM = p.cmJPerK / (1 / p.rimKPerW + 1 / p.rmoKPerW);
  return Math.min(tauI, tauM);
}

export class RoomModel {
  private tiC: number;
  private tmC: number;

  constructor(
    readonly params: RoomParams,
    ti0C: number,
    tm0C: number,
  ) {
    this.tiC = ti0C;
    this.tmC = tm0C;
  }

  /** Room air temperature, °C. */
  get ti(): number {
    return this.tiC;
  }

  /** Building mass temperature, °C. */
  get tm(): number {
    return this.tmC;
  }

  /** Advance by `dtS` seconds with inputs held constant over the step (forward Euler). */
  step(dtS: number, inputs: RoomInputsW): void {
    const p = this.params;
    const ti = this.tiC;
    const tm = this.tmC;
    const { toC } = inputs;
    const flowIm = (tm - ti) / p.rimKPerW;
    const dTi = (flowIm + (toC - ti) / p.rioKPerW + inputs.qUnitW + inputs.qBaseW + inputs.qGainsW) / p.ciJPerK;
    const dTm = (-flowIm + (toC - tm) / p.rmoKPerW) / p.cmJPerK;
    this.tiC = ti + dTi * dtS;
    this.tmC = tm + dTm * dtS;
  }
}
