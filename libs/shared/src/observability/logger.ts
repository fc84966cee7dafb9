import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import type { LogThreshold } from '../config/service-config.js';

const BY_SEVERITY: readonly LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/** The levels printed at `threshold`: it and every more severe one. */
export function levelsUpTo(threshold: LogThreshold): LogLevel[] {
  return BY_SEVERITY.slice(0, BY_SEVERITY.indexOf(threshold) + 1);
}

/**
 * Nest's own start-up contexts. They print a line per module and per route at the `log` level (about 90 for the
 * three services), which buried the one line an operator needs; they are printed at `verbose` instead
 * (LOG_LEVEL=verbose shows them again).
 */
export const FRAMEWORK_STARTUP_CONTEXTS: ReadonlySet<string> = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
]);

/** One value of a text log line's `key=value` fields: bare when it is a plain token, else JSON-quoted. */
function logfmtValue(value: unknown): string {
  if (value === null || value === undefined) return '-';
  const text =
    typeof value === 'string'
      ? value
      : typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint'
        ? String(value)
        : (JSON.stringify(value) ?? '-');
  return /^[\x21-\x7e]+$/.test(text) && !/["=\\]/.test(text) ? text : JSON.stringify(text);
}

/** Structured fields as `key=value` pairs (logfmt), as text log lines show them. */
export function logfmt(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key}=${logfmtValue(value)}`)
    .join(' ');
}

/**
 * A service's logger: Nest's console logger in the service's format (LOG_FORMAT text or json) at its level
 * (LOG_LEVEL). Structured fields passed after the message (`logger.log('…', { status: 200 })`) are `key=value`
 * pairs on a text line and top-level properties of a JSON line. Nest's start-up lines are demoted to `verbose`.
 */
export class ServiceLogger extends ConsoleLogger {
  readonly json: boolean;

  constructor(service: string, options: { readonly format: 'text' | 'json'; readonly level: LogThreshold }) {
    super(service, {
      json: options.format === 'json',
      logLevels: levelsUpTo(options.level),
      flattenParams: true,
    });
    this.json = options.format === 'json';
  }

  override log(message: unknown, ...optionalParams: unknown[]): void {
    const context = optionalParams.at(-1);
    if (typeof context === 'string' && FRAMEWORK_STARTUP_CONTEXTS.has(context)) this.verbose(message, ...optionalParams);
    else super.log(message, ...optionalParams);
  }

  protected override stringifyParams(params: Record<string, unknown>): string {
    return logfmt(params);
  }
}
