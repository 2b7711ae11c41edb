export * from "./request";
export * from "./state-machine";
