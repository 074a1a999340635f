import type { TSchema } from '@sinclair/typebox';
import { describeAllowed } from './config/load.js';
import { ConfigSchema } from './config/schema.js';
import { CLOSE_CODE_TABLE, type ErrorDef, Errors } from './errors.js';
import { describeCodes, FIELDS, type Field } from './filters/fields.js';
import { WORKERS_METRIC } from './host-metrics.js';
import { METRICS } from './metrics.js';

/**
 * The reference tables, as markdown, each generated from its one source: configuration from the
 * config schema, filters from the filter vocabulary, errors and close codes from src/errors.ts.
 * The README embeds them (scripts/gen-docs.ts) and the OpenAPI document the error and close-code
 * tables, so a fact is written once and every document says the same.
 */

/** Text safe inside a markdown table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), `|${header.map(() => '---|').join('')}`, ...rows.map((r) => line(r.map(cell)))].join('\n');
}

export function configTable(): string {
  const rows = Object.entries(ConfigSchema.properties as Record<string, TSchema>).map(([key, s]) => [
    `\`${key}\``,
    s.default === '' ? '(empty)' : `\`${String(s.default)}\``,
    describeAllowed(s),
    String(s.description ?? ''),
  ]);
  return table(['variable', 'default', 'allowed', 'meaning'], rows);
}

function values(f: Field): string {
  switch (f.kind) {
    case 'uuid-list':
      return 'list of UUIDs';
    case 'string-list':
      return 'list of strings';
    case 'name-list':
    case 'code-list':
      return `list of ${describeCodes(f.codes)}`;
    case 'code':
      return describeCodes(f.codes);
    case 'word-list':
      return `list of ${f.values.join(', ')}`;
    case 'any-of':
      return f.values ? `list of ${f.values.join(', ')}` : 'list of strings';
    case 'bound':
      return `${f.integer ? 'integer' : 'number'} ${f.min}..${f.max}`;
    case 'tags':
      return `list of strings, each at most ${f.maxLength} characters`;
    case 'substring':
      return 'string';
    case 'geo':
      return '`origin_longitude,X,origin_latitude,Y[,longitude_delta,DX][,latitude_delta,DY]` in any order; deltas default 0.01, DX in (0, 180], DY in (0, 90]';
  }
}

export function filterTable(): string {
  const rows = (FIELDS as readonly Field[]).map((f) => [`\`${f.name}\``, values(f), f.description, `\`${f.name}=${f.example}\``]);
  return table(['parameter', 'value', 'holds when', 'example'], rows);
}

const names = (fs: readonly Field[]) => fs.map((f) => `\`${f.name}\``).join(', ');

/** How list and code parameters hold, with the parameters of each kind named from the vocabulary. */
export function filterNotes(): string {
  const fields = FIELDS as readonly Field[];
  const anyOf = fields.filter((f) => f.kind === 'any-of');
  const byName = fields.filter((f) => f.kind === 'name-list');
  const byNumber = fields.filter((f) => f.kind === 'code' || f.kind === 'code-list');
  const first = byName[0];
  const [code, name] = first !== undefined && 'codes' in first ? Object.entries(first.codes)[0] : ['', ''];
  return (
    "A list holds when the event's value is one of the list, except `tags` (every given tag must be present) and " +
    `${names(anyOf)} (at least one in common with the event's list). ` +
    `${names(byName)} are given as codes and matched against the names events carry (\`${first?.name}=${code}\` matches \`"${name}"\`); ` +
    `${names(byNumber)} compare the number itself.`
  );
}

/** The LUNA error table: one row per entry of Errors. */
export function errorTable(errors: readonly ErrorDef[] = Object.values(Errors)): string {
  return table(
    ['code', 'HTTP', 'desc', 'when'],
    errors.map((e) => [String(e.code), String(e.status), e.desc, e.when]),
  );
}

/** Every WebSocket close code a client can see. */
export function closeCodeTable(): string {
  return table(
    ['code', 'reason', 'when'],
    CLOSE_CODE_TABLE.map((c) => [String(c.code), c.reason === '' ? '(none)' : `\`${c.reason}\``, c.when]),
  );
}

/** Every metric of /metrics that the gateway defines, and how the host figure is made of the workers'. */
export function metricTable(): string {
  const how = { sum: 'sum', max: 'largest' } as const;
  const rows = METRICS.map((m) => [
    `\`${m.name}\``,
    m.type,
    (m.labels ?? []).map((l) => `\`${l}\``).join(', '),
    m.type === 'histogram' ? 'sum per bucket' : how[m.aggregator],
    m.help,
  ]);
  rows.push([
    `\`${WORKERS_METRIC.name}\``,
    'gauge',
    WORKERS_METRIC.labels.map((l) => `\`${l}\``).join(', '),
    'the answering worker counts',
    WORKERS_METRIC.help,
  ]);
  rows.push([
    '`process_*`, `nodejs_*`',
    'various',
    '`worker` (pid)',
    'one series per live worker',
    "prom-client's default metrics: CPU seconds, resident and heap memory, open file descriptors, event-loop delay (`nodejs_eventloop_lag_p99_seconds` and others), GC durations.",
  ]);
  return table(['metric', 'type', 'labels', 'host figure', 'meaning'], rows);
}
