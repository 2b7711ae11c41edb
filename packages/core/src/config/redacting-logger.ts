/**
 * Loggers that cannot leak secrets: every message and attribute passes through the redaction
 * of `observability/redact` (known secret values, and values under secret-looking keys)
 * before it reaches the underlying logger — Powertools' in Lambda.
 */
import { Logger as PowertoolsLogger } from "@aws-lambda-powertools/logger";
import { type LogAttributes, type Logger, redactObject, redactSecrets } from "../observability";

export function redactingLogger(inner: Logger, secrets: () => readonly string[]): Logger {
  const wrap =
    (level: keyof Logger) =>
    (message: string, attributes?: LogAttributes): void => {
      const known = secrets();
      const safeMessage = redactSecrets(message, known);
      if (attributes === undefined) inner[level](safeMessage);
      else inner[level](safeMessage, redactObject(attributes, known));
    };
  return { debug: wrap("debug"), info: wrap("info"), warn: wrap("warn"), error: wrap("error") };
}

/** A Powertools Logger behind redaction. `secrets` is read on every call, so keys loaded later count. */
export function createServiceLogger(serviceName: string, secrets: () => readonly string[]): Logger {
  const powertools = new PowertoolsLogger({ serviceName });
  return redactingLogger(
    {
      debug: (m, a) => (a ? powertools.debug(m, a) : powertools.debug(m)),
      info: (m, a) => (a ? powertools.info(m, a) : powertools.info(m)),
      warn: (m, a) => (a ? powertools.warn(m, a) : powertools.warn(m)),
      error: (m, a) => (a ? powertools.error(m, a) : powertools.error(m)),
    },
    secrets,
  );
}
