/** The v1 commands of spec/mqtt-api.md "Remote operations", by name. */
import type { CommandHandler } from './command-handler.js';
import { statusHandler } from './handlers/status.js';
import { healthCheckHandler } from './handlers/health-check.js';
import { modeHandler } from './handlers/mode.js';
import { presetHandler } from './handlers/preset.js';
import { setpointOverrideHandler } from './handlers/setpoint-override.js';
import { powerCapHandler } from './handlers/power-cap.js';
import { drainHandler } from './handlers/drain.js';
import { resumeHandler } from './handlers/resume.js';
import { reloadConfigHandler } from './handlers/reload-config.js';
import { restartHandler } from './handlers/restart.js';
import { modelLoadHandler } from './handlers/model-load.js';
import { modelUnloadHandler } from './handlers/model-unload.js';
import { logLevelHandler } from './handlers/log-level.js';
import { scheduleHandler } from './handlers/schedule.js';

export const COMMAND_HANDLERS: readonly CommandHandler[] = [
  statusHandler,
  healthCheckHandler,
  modeHandler,
  presetHandler,
  setpointOverrideHandler,
  powerCapHandler,
  drainHandler,
  resumeHandler,
  reloadConfigHandler,
  restartHandler,
  modelLoadHandler,
  modelUnloadHandler,
  logLevelHandler,
  scheduleHandler,
];

export const COMMANDS: readonly string[] = COMMAND_HANDLERS.map((h) => h.command);
