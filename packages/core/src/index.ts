/** Public face of @vast-rental/core. Each domain folder exports its own API through its index.ts. */
export * from "./clock";
export * from "./dataset";
export * from "./observability";
export * from "./training";
export * from "./vast";
