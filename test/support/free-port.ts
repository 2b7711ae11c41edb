/**
 * A loopback TCP port that was free a moment ago: for servers that must be told their port up
 * front (DynamoDB Local, sshd) and for addresses that must refuse connections.
 */
export { freePort } from "../../packages/local/src/ports";
