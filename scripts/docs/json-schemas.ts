import { z } from 'zod';
import type { NamedSchemas } from '#shared';

/** A JSON Schema as the documents carry it. */
export type JsonSchema = Record<string, unknown>;

/**
 * zod schemas as JSON Schema for one document: every named schema becomes a component referred to by `$ref`
 * (`<prefix><name>`), everything else is inlined. Requests are converted as zod reads them (`io: 'input'`: a field
 * with a default is optional), answers and events as the code produces them (`io: 'output'`), with their objects
 * left open so that a field added later within a version breaks no reader.
 */
export class SchemaBook {
  readonly components: Record<string, JsonSchema> = {};
  private readonly registry = z.registry<{ id: string }>();

  constructor(
    named: NamedSchemas,
    private readonly target: 'draft-2020-12' | 'draft-07',
    private readonly prefix: string,
  ) {
    for (const [schema, id] of named) this.registry.add(schema, { id });
  }

  /** The JSON Schema of `schema` (a `$ref` for a named one), its named parts added to `components`. */
  schemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
    const converted = z.toJSONSchema(schema, {
      metadata: this.registry,
      target: this.target,
      io,
      unrepresentable: 'any',
      override: ({ zodSchema, jsonSchema }) => tidy(zodSchema as unknown as z.ZodType, jsonSchema as JsonSchema, io),
    }) as JsonSchema;
    const { $defs, $schema: _dialect, definitions, ...root } = converted;
    for (const [id, def] of Object.entries({ ...(($defs ?? {}) as JsonSchema), ...((definitions ?? {}) as JsonSchema) })) {
      const rewritten = this.rewrite(def) as JsonSchema;
      const known = this.components[id];
      if (known !== undefined && JSON.stringify(known) !== JSON.stringify(rewritten))
        throw new Error(`schema ${id} differs between its uses (${io}): give one of them another name`);
      this.components[id] = rewritten;
    }
    return this.rewrite(root) as JsonSchema;
  }

  private rewrite(node: unknown): unknown {
    if (Array.isArray(node)) return node.map((n) => this.rewrite(n));
    if (typeof node !== 'object' || node === null) return node;
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => [
        key,
        key === '$ref' && typeof value === 'string'
          ? value.replace(/^#\/(\$defs|definitions)\//, this.prefix)
          : this.rewrite(value),
      ]),
    );
  }
}

/**
 * What zod emits, made to read as documentation: the descriptions and formats given with `.meta()`; no regular
 * expression beside a `format` that says the same; no safe-integer bounds; open answer objects; and a request
 * field's default said in words, since generators (openapi-typescript) make a field with `default` required.
 */
function tidy(zodSchema: z.ZodType, json: JsonSchema, io: 'input' | 'output'): void {
  const meta = z.globalRegistry.get(zodSchema);
  if (meta) for (const [key, value] of Object.entries(meta)) if (key !== 'id' && json[key] === undefined) json[key] = value;
  if ((json.format === 'date-time' || json.format === 'uuid') && typeof json.pattern === 'string') delete json.pattern;
  if (json.maximum === Number.MAX_SAFE_INTEGER) delete json.maximum;
  if (json.minimum === Number.MIN_SAFE_INTEGER) delete json.minimum;
  if (json.additionalProperties === false && io === 'output' && !isStrict(zodSchema)) delete json.additionalProperties;
  if (io === 'input' && 'default' in json) {
    const said = `Default: \`${JSON.stringify(json.default)}\`.`;
    json.description = typeof json.description === 'string' ? `${json.description} ${said}` : said;
    delete json.default;
  }
}

function isStrict(schema: z.ZodType): boolean {
  const def = schema._zod.def as { type: string; catchall?: z.ZodType };
  return def.type === 'object' && def.catchall?._zod.def.type === 'never';
}
