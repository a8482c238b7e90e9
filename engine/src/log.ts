// Structured logs: one JSON object per line on stdout (what log collectors in a cluster expect).

export type LogFields = Record<string, unknown>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export function jsonLogger(component: string, write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  const emit = (level: string, message: string, fields?: LogFields): void => {
    write(`${JSON.stringify({ time: new Date().toISOString(), level, component, message, ...fields })}\n`);
  };
  return {
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
