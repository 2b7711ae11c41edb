export * from "./dynamo-job-store";
export * from "./errors";
export type * from "./job-store";
export * from "./records";
export * from "./table-definition";
