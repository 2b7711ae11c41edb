/** Public face of @vast-rental/core. Each domain folder exports its own API through its index.ts. */
export * from "./api";
export * from "./clock";
export * from "./config";
export * from "./dataset";
export * from "./deployment";
export * from "./events";
export * from "./jobs";
export * from "./net";
export * from "./observability";
export * from "./offers";
export * from "./queue";
export * from "./signing";
export * from "./ssh";
export * from "./store";
export * from "./training";
export * from "./vast";
