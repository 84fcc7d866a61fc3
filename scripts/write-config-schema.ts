/**
 * Writes schema/agent.schema.json from the zod config schema.
 *   node --import tsx scripts/write-config-schema.ts           write it
 *   node --import tsx scripts/write-config-schema.ts --check   exit 1 when the file is out of date
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { configJsonSchemaText } from '../agent/config/json-schema.js';

const target = fileURLToPath(new URL('../schema/agent.schema.json', import.meta.url));
const text = configJsonSchemaText();

if (process.argv.includes('--check')) {
  const current = await readFile(target, 'utf8').catch(() => '');
  if (current !== text) {
    process.stderr.write(`${target} is out of date: run node --import tsx scripts/write-config-schema.ts\n`);
    process.exitCode = 1;
  }
} else {
  await writeFile(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
