export { type BackoffPolicy, backoffDelayMs, type JitterOptions, seededRandom } from "./backoff";
