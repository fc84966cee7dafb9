/**
 * docker-compose.yml read as Docker Compose reads it, for the deployment check (check.ts) on machines without a
 * Docker engine: YAML anchors, aliases and merge keys (`<<`), then the Compose specification's interpolation of
 * every value (not keys): `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
 * `${VAR:+replacement}`, `${VAR+replacement}`, nested operands, and `$$` for a literal `$`. An unset variable
 * without a default becomes empty with a warning, as Compose does; a required one is an error.
 */
import { parse } from 'yaml';

/** A named volume (`name:/target`) or a bind mount (`./path:/target`), read-only with `:ro`. */
export interface Mount {
  readonly type: 'volume' | 'bind';
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

/** A published port: `[host ip:]host port:container port`; an empty host IP means every interface. */
export interface PortMapping {
  readonly hostIp: string;
  readonly hostPort: string;
  readonly containerPort: string;
}

/** The parts of a service the check uses, normalised from the forms Compose accepts. */
export interface ComposeService {
  readonly name: string;
  readonly image: string | undefined;
  readonly build: boolean;
  readonly user: string | undefined;
  readonly entrypoint: string[] | undefined;
  readonly command: string[] | undefined;
  readonly environment: Record<string, string>;
  readonly mounts: Mount[];
  readonly ports: PortMapping[];
  readonly healthcheck: string[] | undefined;
  /** Service name → condition (service_started, service_healthy, service_completed_successfully). */
  readonly dependsOn: Record<string, string>;
}

export interface ComposeProject {
  readonly services: ComposeService[];
  readonly volumes: string[];
  /** Unset variables without a default (each became an empty string). */
  readonly warnings: string[];
}

/** A `${VAR:?error}` or `${VAR?error}` whose variable was missing: Compose stops with this message. */
export class InterpolationError extends Error {}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/**
 * Interpolates one value. `where` names it in messages; `warnings` collects unset variables that had no default.
 */
export function interpolate(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
  where: string,
  warnings: string[],
): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const end = closingBrace(text, i + 2);
      if (end < 0)
        throw new InterpolationError(`${where}: invalid interpolation format for ${JSON.stringify(text)}: no closing brace`);
      out += braced(text.slice(i + 2, end), env, where, warnings);
      i = end + 1;
      continue;
    }
    const name = NAME.exec(text.slice(i + 1))?.[0];
    if (!name) {
      // Not a variable: kept as it is.
      out += c;
      i++;
      continue;
    }
    out += direct(name, env, where, warnings);
    i += 1 + name.length;
  }
  return out;
}

/** The index of the `}` that closes a `${` whose content starts at `from`, skipping nested `${…}` and `$$`. */
function closingBrace(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    if (text[i] === '$' && text[i + 1] === '$') i++;
    else if (text[i] === '$' && text[i + 1] === '{') {
      depth++;
      i++;
    } else if (text[i] === '}') {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}

function direct(name: string, env: Readonly<Record<string, string | undefined>>, where: string, warnings: string[]): string {
  const value = env[name];
  if (value === undefined) {
    warnings.push(`${where}: the "${name}" variable is not set. Defaulting to a blank string.`);
    return '';
  }
  return value;
}

function braced(
  expression: string,
  env: Readonly<Record<string, string | undefined>>,
  where: string,
  warnings: string[],
): string {
  const name = NAME.exec(expression)?.[0];
  if (!name) throw new InterpolationError(`${where}: invalid interpolation format for "\${${expression}}"`);
  const rest = expression.slice(name.length);
  if (rest === '') return direct(name, env, where, warnings);
  const operator = /^(:-|-|:\?|\?|:\+|\+)/.exec(rest)?.[0];
  if (!operator) throw new InterpolationError(`${where}: invalid interpolation format for "\${${expression}}"`);
  // The operand is interpolated only when it is used, as a shell does.
  const operand = () => interpolate(rest.slice(operator.length), env, where, warnings);
  const value = env[name];
  const set = value !== undefined;
  const nonEmpty = set && value !== '';
  switch (operator) {
    case ':-':
      return nonEmpty ? value : operand();
    case '-':
      return set ? value : operand();
    case ':?':
      if (nonEmpty) return value;
      throw new InterpolationError(`${where}: required variable ${name} is missing a value: ${operand()}`);
    case '?':
      if (set) return value;
      throw new InterpolationError(`${where}: required variable ${name} is missing a value: ${operand()}`);
    case ':+':
      return nonEmpty ? operand() : '';
    default: // '+'
      return set ? operand() : '';
  }
}

/** Interpolates every string value of a parsed YAML tree (keys stay as they are). */
function interpolateTree(
  node: unknown,
  env: Readonly<Record<string, string | undefined>>,
  path: string,
  warnings: string[],
): unknown {
  if (typeof node === 'string') return interpolate(node, env, path, warnings);
  if (Array.isArray(node)) return node.map((item, i) => interpolateTree(item, env, `${path}[${i}]`, warnings));
  if (node !== null && typeof node === 'object')
    return Object.fromEntries(
      Object.entries(node as Record<string, unknown>).map(([key, value]) => [
        key,
        interpolateTree(value, env, path ? `${path}.${key}` : key, warnings),
      ]),
    );
  return node;
}

/** Parses and interpolates a compose file; throws InterpolationError for a missing required variable. */
export function loadCompose(text: string, env: Readonly<Record<string, string | undefined>>): ComposeProject {
  const raw = parse(text, { merge: true, maxAliasCount: 1000 }) as Record<string, unknown>;
  const warnings: string[] = [];
  const tree = interpolateTree(raw, env, '', warnings) as {
    services?: Record<string, Record<string, unknown>>;
    volumes?: Record<string, unknown>;
  };
  const services = Object.entries(tree.services ?? {}).map(([name, s]) => normaliseService(name, s));
  return { services, volumes: Object.keys(tree.volumes ?? {}), warnings };
}

/** A scalar as Compose reads it (a number or boolean as its text); anything else is a mistake in the file. */
function scalar(value: unknown, where: string): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`${where}: expected a string, got ${JSON.stringify(value)}`);
}

function words(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.map(String);
  // The string form is split on white space (no quoting): the check's own file uses the list form.
  return scalar(value, 'command').trim().split(/\s+/);
}

function normaliseService(name: string, s: Record<string, unknown>): ComposeService {
  const env = s.environment;
  const environment: Record<string, string> = {};
  if (Array.isArray(env)) {
    for (const entry of env.map(String)) {
      const at = entry.indexOf('=');
      if (at > 0) environment[entry.slice(0, at)] = entry.slice(at + 1);
    }
  } else if (env && typeof env === 'object') {
    for (const [key, value] of Object.entries(env as Record<string, unknown>))
      if (value !== null && value !== undefined) environment[key] = scalar(value, `services.${name}.environment.${key}`);
  }
  const mounts = ((s.volumes as unknown[] | undefined) ?? []).map((v) => parseMount(name, v));
  const ports = ((s.ports as unknown[] | undefined) ?? []).map((p) => parsePort(name, p));
  const depends = s.depends_on;
  const dependsOn: Record<string, string> = Array.isArray(depends)
    ? Object.fromEntries(depends.map((d) => [String(d), 'service_started']))
    : Object.fromEntries(
        Object.entries((depends as Record<string, { condition?: string }> | undefined) ?? {}).map(([d, v]) => [
          d,
          v?.condition ?? 'service_started',
        ]),
      );
  const health = (s.healthcheck as { test?: unknown } | undefined)?.test;
  return {
    name,
    image: s.image === undefined ? undefined : scalar(s.image, `services.${name}.image`),
    build: s.build !== undefined,
    user: s.user === undefined ? undefined : scalar(s.user, `services.${name}.user`),
    entrypoint: words(s.entrypoint),
    command: words(s.command),
    environment,
    mounts,
    ports,
    healthcheck: words(health),
    dependsOn,
  };
}

function parseMount(service: string, value: unknown): Mount {
  if (typeof value === 'object' && value !== null) {
    const v = value as { type?: string; source?: string; target?: string; read_only?: boolean };
    return {
      type: v.type === 'bind' ? 'bind' : 'volume',
      source: String(v.source ?? ''),
      target: String(v.target ?? ''),
      readOnly: v.read_only === true,
    };
  }
  const parts = String(value).split(':');
  if (parts.length < 2)
    throw new Error(`services.${service}.volumes: ${String(value)} has no target (anonymous volumes are not used here)`);
  const [source, target, mode = 'rw'] = parts as [string, string, string?];
  const bind = source.startsWith('.') || source.startsWith('/') || source.startsWith('~');
  return { type: bind ? 'bind' : 'volume', source, target, readOnly: mode.split(',').includes('ro') };
}

function parsePort(service: string, value: unknown): PortMapping {
  if (typeof value === 'object' && value !== null) {
    const v = value as { host_ip?: string; published?: string | number; target?: string | number };
    return { hostIp: v.host_ip ?? '', hostPort: String(v.published ?? ''), containerPort: String(v.target ?? '') };
  }
  const parts = String(value).split(':');
  if (parts.length === 1) return { hostIp: '', hostPort: '', containerPort: parts[0]! };
  if (parts.length === 2) return { hostIp: '', hostPort: parts[0]!, containerPort: parts[1]! };
  if (parts.length === 3) return { hostIp: parts[0]!, hostPort: parts[1]!, containerPort: parts[2]! };
  throw new Error(`services.${service}.ports: cannot read ${String(value)}`);
}
