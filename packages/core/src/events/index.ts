export * from "./eventbridge-publisher";
export * from "./in-memory-publisher";
export * from "./job-events";
export * from "./publish";
