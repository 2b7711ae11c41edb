export * from "./provision-dependencies";
export * from "./push-dependencies";
export * from "./redacting-logger";
export * from "./runtime-config";
export * from "./secrets";
export * from "./ssh-public-key";
