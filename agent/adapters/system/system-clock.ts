import { performance } from 'node:perf_hooks';
import type { Clock } from '../../ports/clock.js';

export const systemClock: Clock = {
  monoS: () => performance.now() / 1000,
  wallMs: () => Date.now(),
};
