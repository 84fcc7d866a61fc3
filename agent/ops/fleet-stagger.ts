/** Longest random delay of a fleet-wide restart or reload_config (spec/mqtt-api.md): a building never restarts at once. */
export const FLEET_STAGGER_MAX_S = 30;

/** The delay (ms) of a fleet-wide restart/reload_config: uniform in [0, maxS) from `random` in [0, 1). */
export function fleetStaggerMs(random: () => number, maxS: number = FLEET_STAGGER_MAX_S): number {
  const r = random();
  const u = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.floor(u * maxS * 1000);
}
