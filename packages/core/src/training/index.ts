export * from "./request";
