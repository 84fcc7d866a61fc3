import { z } from 'zod';
import { configSchema } from './schema.js';

export const CONFIG_SCHEMA_ID = 'https://anchiale.dev/schema/agent.schema.json';

type JsonObject = Record<string, unknown>;

/**
 * JSON Schema (draft 2020-12) of the config file, for editors and CI: the input side of the zod
 * schema (keys with defaults are optional). Cross-field rules (min < max, cron syntax, time zones)
 * are checked by `anchiale config check` only. Two keys differ from the zod schema: node.id has
 * no fixed default (it is the host name), and mqtt.password is absent (never in the file).
 */
export function configJsonSchema(): JsonObject {
  const schema = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-2020-12' }) as JsonObject;
  const props = (obj: unknown): JsonObject => ((obj as JsonObject).properties ?? {}) as JsonObject;
  const nodeId = props(props(schema).node).id as JsonObject;
  delete nodeId.default;
  const mqtt = props(schema).mqtt as JsonObject;
  delete props(mqtt).password;
  const { $schema, ...rest } = schema;
  return { $schema, $id: CONFIG_SCHEMA_ID, title: 'AnchIAle agent configuration', ...rest };
}

/** The text of schema/agent.schema.json. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
