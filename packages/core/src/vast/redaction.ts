/**
 * Keeps the Vast API key out of everything the client emits: error messages, causes, stacks
 * and log records. Vast URLs may carry the key as `api_key=`, and error bodies may echo input.
 */
import { redactSecrets } from "../observability";

const API_KEY_PARAM = /(api_key=)[^&\s"']+/gi;
const BEARER = /(bearer\s+)[A-Za-z0-9._~+/=-]+/gi;

export type Redactor = (text: string) => string;

export function createRedactor(apiKey: string | undefined): Redactor {
  return (text) =>
    redactSecrets(text, [apiKey]).replace(API_KEY_PARAM, "$1[REDACTED]").replace(BEARER, "$1[REDACTED]");
}

/** `https://host/path?x=1` → `/path` (queries may hold keys or presigned signatures). */
export function pathOf(url: string): string {
  return new URL(url).pathname;
}
