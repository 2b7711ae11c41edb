/**
 * The logging port. Powertools' `Logger` satisfies it structurally, so Lambda handlers pass
 * theirs in; tests pass `silentLogger` or a recording logger.
 */
export type LogAttributes = Record<string, unknown>;

export interface Logger {
  debug(message: string, attributes?: LogAttributes): void;
  info(message: string, attributes?: LogAttributes): void;
  warn(message: string, attributes?: LogAttributes): void;
  error(message: string, attributes?: LogAttributes): void;
}

export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

export interface LogRecord {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  attributes?: LogAttributes;
}

/** A logger that keeps every record, for tests that assert what was (and was not) logged. */
export function createRecordingLogger(): Logger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const record = (level: LogRecord["level"]) => (message: string, attributes?: LogAttributes) => {
    records.push({ level, message, attributes });
  };
  return {
    records,
    debug: record("debug"),
    info: record("info"),
    warn: record("warn"),
    error: record("error"),
  };
}
