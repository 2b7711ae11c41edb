export * from "./provision-dependencies";
export * from "./redacting-logger";
export * from "./runtime-config";
export * from "./secrets";
export * from "./ssh-public-key";
export * from "./push-dependencies";
