/**
 * Reading a JSON body in the order the problems are told apart: not JSON by its media type (415),
 * not UTF-8 or not parseable (400). The size limit was applied before (413, `hono/body-limit`).
 * Parse errors are described without quoting the body.
 */
import type { Context } from "hono";
import { problems } from "./problem";

/** `application/json`, or any `application/<something>+json`, with parameters allowed. */
const JSON_MEDIA_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;.*)?$/i;

export function isJsonMediaType(contentType: string | undefined): boolean {
  return contentType !== undefined && JSON_MEDIA_TYPE.test(contentType.trim());
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Parses raw bytes as a JSON document; throws a 400 problem. */
export function parseJsonBytes(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw problems.malformed("the body is not valid UTF-8");
  }
  if (text.trim() === "") throw problems.malformed("the body is empty; send a JSON object");
  try {
    return JSON.parse(text);
  } catch {
    throw problems.malformed("the body is not valid JSON");
  }
}

/** The request's JSON body; 415 when it is not declared JSON, 400 when it does not parse. */
export async function readJsonBody(c: Context): Promise<unknown> {
  if (!isJsonMediaType(c.req.header("content-type"))) throw problems.unsupportedMediaType();
  return parseJsonBytes(new Uint8Array(await c.req.arrayBuffer()));
}
