/**
 * Checks for hostile text at intake. Values from requests end up in YAML files, remote paths
 * and prompts; a control character there is never legitimate, so it is refused up front.
 */

/** True when `text` holds a C0 control character, DEL, or a C1 control character. */
export function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}
