#!/usr/bin/env node
/** Entry point: the command line. The composition root (adapters, wiring) grows from here. */
import { buildProgram } from './cli/program.js';
import { EXIT_CONFIG, EXIT_FAILURE } from './cli/exit-codes.js';
import { ConfigError } from './config/config-error.js';
import { errorMessage } from './errors.js';

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.format()}\n${err.message}\n`);
      process.exitCode = EXIT_CONFIG;
    } else {
      process.stderr.write(`anchiale: ${errorMessage(err)}\n`);
      process.exitCode = EXIT_FAILURE;
    }
  });
