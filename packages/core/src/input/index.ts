export { hasControlCharacters } from "./text";
