export * from "./redacting-logger";
export * from "./runtime-config";
export * from "./secrets";
