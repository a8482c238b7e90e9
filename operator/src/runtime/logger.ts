// Structured JSON logs, one line per record, the same shape as the engine's.
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function jsonLogger(component: string, base: Record<string, unknown> = {}, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const record = (level: string) => (message: string, fields: Record<string, unknown> = {}): void =>
    write(`${JSON.stringify({ time: new Date().toISOString(), level, component, message, ...base, ...fields })}\n`);
  return {
    info: record('info'), warn: record('warn'), error: record('error'),
    child: (fields) => jsonLogger(component, { ...base, ...fields }, write),
  };
}
