export * from "./in-memory-job-queue";
export * from "./job-queue";
export * from "./messages";
export * from "./sqs-job-queue";
