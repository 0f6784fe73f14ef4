// Structured logging: one JSON object a line on stdout. Never pass passwords, tokens or message text.
/** LOG_LEVEL's choices, quietest last. */
export const logLevels = ['debug', 'info', 'warn', 'error', 'silent'] as const;

type Level = Exclude<(typeof logLevels)[number], 'silent'>;
type Fields = Record<string, unknown>;

export type Logger = Record<Level, (msg: string, fields?: Fields) => void>;

const rank = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;

function plain(value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value;
}

/** `every`: fields on every line, such as the node of a cluster that wrote it. */
export function createLogger(level: (typeof logLevels)[number], write: (line: string) => void = (line) => process.stdout.write(line), every: Fields = {}): Logger {
  const emit = (at: Level) => (msg: string, fields?: Fields) => {
    if (rank[at] < rank[level]) return;
    const record: Fields = { time: new Date().toISOString(), level: at, msg, ...every };
    for (const key in fields) record[key] = plain(fields[key]);
    write(`${JSON.stringify(record)}\n`);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}
