export * from "./rank";
