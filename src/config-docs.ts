// Writes the settings table of docs/configuration.md from the settings' schema: `npm run settings:docs`.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as v from 'valibot';
import { settingFields } from './config.ts';

export const page = new URL('../docs/configuration.md', import.meta.url);
const begin = '<!-- settings:begin -->\n';
const end = '<!-- settings:end -->\n';

const units: [bytes: number, name: string][] = [[1024 ** 3, 'GiB'], [1024 ** 2, 'MiB']];

/** A byte count in words when it is a whole number of MiB or GiB (`26214400`: 25 MiB). */
function sizeInWords(name: string, value: string): string {
  if (!name.includes('BYTES') || !/^\d+$/.test(value)) return '';
  const unit = units.find(([bytes]) => Number(value) % bytes === 0);
  return unit ? ` (${Number(value) / unit[0]} ${unit[1]})` : '';
}

function shownDefault(name: string, schema: v.GenericSchema): string {
  const { shownDefault } = v.getMetadata(schema as never) as { shownDefault?: string };
  if (shownDefault !== undefined) return shownDefault;
  const fallback: unknown = v.getDefault(schema as never);
  if (typeof fallback !== 'string' || fallback === '') return '*(none)*';
  return `\`${fallback}\`${sizeInWords(name, fallback)}`;
}

/** The table, one row per setting in the schema's order. */
export function renderSettings(fields: Record<string, v.GenericSchema> = settingFields): string {
  const rows = Object.entries(fields).map(([name, schema]) => {
    const meaning = v.getDescription(schema as never);
    if (!meaning) throw new Error(`${name} has no description in src/config.ts`);
    if (meaning.includes('\n') || meaning.includes('|')) throw new Error(`${name}'s description must be one line without "|"`);
    return `| \`${name}\` | ${shownDefault(name, schema)} | ${meaning} |`;
  });
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n') + '\n';
}

/** The page with its table between the markers replaced by `table`. */
export function withSettings(text: string, table: string): string {
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`docs/configuration.md has lost its ${begin.trim()} and ${end.trim()} markers`);
  return text.slice(0, from + begin.length) + table + text.slice(to);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(page, withSettings(readFileSync(page, 'utf8'), renderSettings()));
}
