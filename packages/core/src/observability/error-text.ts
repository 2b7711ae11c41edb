/** The message of anything thrown, for logs and reasons (redact it before it leaves, as with any text). */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
